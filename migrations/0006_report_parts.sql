-- Reports stored in pieces: the document's JSON text split into parts, in
-- order, so that a report of any allowed size is written and read a piece at
-- a time (one jsonb value is limited to 256 MB and must be held whole).
-- Reports stored before keep their `document`; new ones leave it NULL and
-- have parts instead.

ALTER TABLE reports ALTER COLUMN document DROP NOT NULL;

CREATE TABLE report_parts (
    report_id uuid    NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    seq       integer NOT NULL,   -- order in the document, from 0
    body      text    NOT NULL,   -- the document's text is every body in seq order
    PRIMARY KEY (report_id, seq)
);
