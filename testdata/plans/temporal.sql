-- Temporal filters: now() compared with a row's timestamp, maintained as time passes.
CREATE TABLE events (id int PRIMARY KEY, ts timestamptz, local_ts timestamp, day date, v int);

-- A sliding window: rows leave it 2 seconds after their ts.
CREATE VIEW recent AS
  SELECT id, ts, v FROM events WHERE ts > now() - interval '2 seconds' AND v > 0;

-- An aggregate over the sliding window.
CREATE VIEW recent_sum AS
  SELECT count(*) AS n, sum(v) AS total FROM events WHERE ts > now() - interval '2 seconds';

-- Rows become valid in the future (the mirrored form), bounded on both sides with BETWEEN.
CREATE VIEW due AS
  SELECT id, local_ts FROM events
  WHERE now() >= local_ts AND day BETWEEN current_timestamp - interval '1 day' AND now() + interval '1 day';
