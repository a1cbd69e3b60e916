-- Where each approval of a large batch's proposals came from: the review
-- page or the command line, and for the command line the operating system
-- user who ran it. Two approvals from the command line by the same OS user
-- are one person's, whatever --as said. Approvals recorded before this
-- migration have no source.
ALTER TABLE approvals ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE approvals ADD COLUMN os_user TEXT NOT NULL DEFAULT '';
