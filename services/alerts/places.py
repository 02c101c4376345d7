"""What a message needs to say where an incident is and, for an outbreak, who has fever: looked
up once per incident per step."""

from __future__ import annotations

from datetime import timedelta

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from rules.outbreak import RULE_ID as OUTBREAK
from services.alerts.messages import Fever, Place
from services.alerts.model import Incident

__all__ = ["PlaceBook"]


class PlaceBook:
    def __init__(self, conn: AsyncConnection[TupleRow]) -> None:
        self.conn = conn
        self._places: dict[int, Place] = {}

    async def of(self, incident: Incident) -> Place:
        if incident.id not in self._places:
            self._places[incident.id] = await self._lookup(incident)
        return self._places[incident.id]

    async def _lookup(self, incident: Incident) -> Place:
        if incident.resident_id is not None:
            cur = await self.conn.execute(
                "SELECT s.name, u.name, r.display_name, r.room, r.bed, coalesce(("
                "SELECT c.granted FROM resident_consents c WHERE c.resident_id = r.resident_id"
                " AND c.kind = 'third_party_messaging' ORDER BY c.recorded_at DESC, c.id DESC"
                " LIMIT 1), false), s.kind = 'family_bed', r.address, r.emergency_plan"
                " FROM residents r"
                " JOIN sites s USING (site_id) JOIN units u USING (site_id, unit_id)"
                " WHERE r.resident_id = %s",
                [incident.resident_id],
            )
            row = await cur.fetchone()
            if row is not None:
                return Place(
                    row[0],
                    row[1],
                    row[2],
                    row[3],
                    row[4],
                    messaging_consent=row[5],
                    family_bed=row[6],
                    home_address=row[7],
                    emergency_plan=row[8],
                )
        cur = await self.conn.execute(
            "SELECT s.name, u.name FROM sites s LEFT JOIN units u"
            " ON u.site_id = s.site_id AND u.unit_id = %s WHERE s.site_id = %s",
            [incident.unit_id, incident.site_id],
        )
        row = await cur.fetchone()
        if row is None:
            return Place(incident.site_id, incident.unit_id)
        return Place(row[0], row[1] or incident.unit_id)

    async def fevers(self, incident: Incident) -> list[Fever]:
        """For an outbreak cluster: each listed resident's highest temperature in the window."""
        out: list[Fever] = []
        for alert in incident.alerts:
            if alert.rule_id != OUTBREAK:
                continue
            ids = [int(r) for r in str(alert.values.get("residents", "")).split(",") if r]
            hours = float(alert.values.get("window_h", 72))
            since = alert.last_ts - timedelta(hours=hours)
            cur = await self.conn.execute(
                "SELECT DISTINCT ON (r.resident_id) r.display_name, t.value, t.ts, coalesce(("
                "SELECT c.granted FROM resident_consents c WHERE c.resident_id = r.resident_id"
                " AND c.kind = 'third_party_messaging' ORDER BY c.recorded_at DESC, c.id DESC"
                " LIMIT 1), false) FROM residents r JOIN readings t USING (resident_id)"
                " WHERE r.resident_id = ANY(%s) AND t.metric = 'temp' AND t.ts >= %s"
                " AND t.ts <= %s ORDER BY r.resident_id, t.value DESC, t.ts",
                [ids, since, alert.last_ts + timedelta(minutes=1)],
            )
            out += [Fever(*row) for row in await cur.fetchall()]
        return out
