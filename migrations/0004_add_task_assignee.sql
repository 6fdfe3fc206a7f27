-- Adding a nullable column is instant. The foreign key is added NOT VALID so this migration does not scan
-- tasks while holding its lock; 0006 validates it under a weaker lock.
ALTER TABLE tasks ADD COLUMN assignee_id bigint;

ALTER TABLE tasks
  ADD CONSTRAINT tasks_assignee_id_fkey FOREIGN KEY (assignee_id) REFERENCES accounts (id) NOT VALID;
