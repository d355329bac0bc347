-- now() outside the temporal-filter form.
CREATE TABLE events (id int PRIMARY KEY, ts timestamptz, day date, v int);

CREATE VIEW v AS SELECT e.id FROM events e JOIN events f ON f.ts > current_timestamp;
