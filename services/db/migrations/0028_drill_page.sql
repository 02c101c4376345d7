-- The API pages a drill (POST /api/v1/outbreaks/drills) through this function only: with
-- INSERT on alert_candidates (migration 0025) it could have handed the alert service any alert
-- of any resident. The function writes one candidate, for a drill's case file, built from that
-- file's own row and marked as a drill; the caller chooses only the title and the figures.
REVOKE INSERT ON alert_candidates FROM carewatch_api;

CREATE FUNCTION carewatch_page_drill(drill_id bigint, title text, figures jsonb) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    file public.outbreaks%ROWTYPE;
BEGIN
    SELECT * INTO file FROM public.outbreaks WHERE outbreak_id = drill_id AND drill;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no drill case file %', drill_id;
    END IF;
    INSERT INTO public.alert_candidates (rule_id, action, subject, dedupe_key, severity, ts,
                                         title, "values", audience, origin)
    VALUES (file.rule_id, 'raise', 'unit:' || file.site_id || '/' || file.unit_id,
            'outbreak.drill:' || drill_id, 'high', now(), title,
            coalesce(figures, '{}'::jsonb) || '{"drill": 1}'::jsonb, 'infection_control',
            'drill:' || drill_id);
END $$;
REVOKE ALL ON FUNCTION carewatch_page_drill(bigint, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION carewatch_page_drill(bigint, text, jsonb) TO carewatch_api;
