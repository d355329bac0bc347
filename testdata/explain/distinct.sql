-- DISTINCT over a few columns, DISTINCT over wide rows (flagged), and a
-- projection without a unique key (flagged: no key-value sink can hold it).
CREATE TABLE events (id bigint PRIMARY KEY, kind text, source text, host text, path text, status integer, agent text);

CREATE VIEW kinds AS SELECT DISTINCT kind, status FROM events;

CREATE VIEW requests AS
SELECT DISTINCT kind, source, host, path, status, agent FROM events;

CREATE VIEW paths AS SELECT path, status FROM events WHERE status >= 500;

CREATE VIEW passthrough AS SELECT id, kind FROM events;
