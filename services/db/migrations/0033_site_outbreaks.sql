-- Site-level outbreak case files (issue 18): a cluster counted over every unit of a site opens
-- one file for the site, with no unit (its line list says each case's unit). One open per
-- site and syndrome, drills apart, as the unit files' one per unit and syndrome.
ALTER TABLE outbreaks ALTER COLUMN unit_id DROP NOT NULL;
CREATE UNIQUE INDEX outbreaks_one_open_site ON outbreaks (site_id, syndrome)
    WHERE unit_id IS NULL AND status = 'open' AND NOT drill;
