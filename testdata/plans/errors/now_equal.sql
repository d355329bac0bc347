-- now() outside the temporal-filter form.
CREATE TABLE events (id int PRIMARY KEY, ts timestamptz, day date, v int);

CREATE VIEW v AS SELECT id FROM events WHERE ts = now();
