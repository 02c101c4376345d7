// The board's alarm: while a high or critical incident is unacknowledged the board flashes and,
// by the site's `board_alarm` setting, beeps again every few seconds ("continuous"), once per
// new incident ("once"), or not at all ("off"). Acknowledging an incident silences it; the
// alarm stops when none is left. The state is on the element as data-alarm (on/off),
// data-alarm-level (the loudest severity waiting) and data-alarm-sound (loop/once/off).
import { beep } from './audio.js';

export const ALARM_MODES = ['continuous', 'once', 'off'];
const REPEAT_MS = 3_000;

export class Alarm {
  constructor(element) {
    this.element = element;
    this.mode = 'continuous';
    this.level = null;
    this.heard = new Set(); // incidents already beeped for (mode "once")
    this.timer = null;
    this.show();
  }

  setMode(mode) {
    this.mode = ALARM_MODES.includes(mode) ? mode : 'continuous';
    this.restart();
  }

  /** The incidents that are loud and unacknowledged now (ids and severity). */
  update(waiting) {
    const level = waiting.some((i) => i.severity === 'critical')
      ? 'critical'
      : waiting.length
        ? 'high'
        : null;
    const fresh = waiting.filter((i) => !this.heard.has(i.id));
    for (const i of fresh) this.heard.add(i.id);
    const changed = level !== this.level;
    this.level = level;
    // A new incident is heard at once (the loop starts over from it), not at the next repeat.
    if (changed || (fresh.length && this.mode === 'continuous')) this.restart();
    else if (fresh.length && this.mode === 'once') this.sound();
    this.show();
  }

  restart() {
    clearInterval(this.timer);
    this.timer = null;
    if (this.level && this.mode !== 'off') {
      this.sound();
      if (this.mode === 'continuous') this.timer = setInterval(() => this.sound(), REPEAT_MS);
    }
    this.show();
  }

  sound() {
    if (beep(this.level)) {
      this.element.dataset.beeps = String(Number(this.element.dataset.beeps || 0) + 1);
    }
  }

  show() {
    const on = this.level !== null;
    this.element.dataset.alarm = on ? 'on' : 'off';
    this.element.dataset.alarmLevel = this.level || '';
    let sound = 'off';
    if (on && this.mode === 'continuous') sound = 'loop';
    else if (on && this.mode === 'once') sound = 'once';
    this.element.dataset.alarmSound = sound;
  }
}
