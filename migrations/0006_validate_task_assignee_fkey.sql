-- Scans tasks under SHARE UPDATE EXCLUSIVE: reads and writes go on meanwhile.
ALTER TABLE tasks VALIDATE CONSTRAINT tasks_assignee_id_fkey;
