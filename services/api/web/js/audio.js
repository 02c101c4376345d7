// A short beep for new high and critical alerts, made with WebAudio (no sound files).
// Browsers start audio only after a tap on the page, so the board offers a button and also
// unlocks on the first tap anywhere.

let context = null;

function audioContext() {
  if (!context && window.AudioContext) context = new AudioContext();
  return context;
}

/** Whether a beep would be heard now. */
export function soundOn() {
  return audioContext()?.state === 'running';
}

/** Call from a tap or key press: browsers refuse to start audio otherwise. */
export async function enableSound() {
  const ctx = audioContext();
  if (ctx && ctx.state !== 'running') await ctx.resume();
  return soundOn();
}

const TONES = {
  critical: { hz: 1320, count: 3 },
  high: { hz: 880, count: 2 },
};

/** Beep for a severity; true if it was played (audio running). */
export function beep(severity) {
  const tone = TONES[severity];
  const ctx = audioContext();
  if (!tone || !ctx || ctx.state !== 'running') return false;
  const start = ctx.currentTime + 0.02;
  for (let i = 0; i < tone.count; i++) {
    const at = start + i * 0.28;
    const oscillator = ctx.createOscillator();
    const gain = ctx.createGain();
    oscillator.type = 'square';
    oscillator.frequency.value = tone.hz;
    // A quick ramp up and down: no click at the edges.
    gain.gain.setValueAtTime(0, at);
    gain.gain.linearRampToValueAtTime(0.2, at + 0.02);
    gain.gain.linearRampToValueAtTime(0, at + 0.18);
    oscillator.connect(gain).connect(ctx.destination);
    oscillator.start(at);
    oscillator.stop(at + 0.2);
  }
  return true;
}
