CREATE TABLE comments (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  task_id bigint NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  author_id bigint NOT NULL REFERENCES accounts (id),
  body text NOT NULL CHECK (length(body) BETWEEN 1 AND 10000),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX comments_task_id_created_at_idx ON comments (task_id, created_at);

CREATE VIEW open_tasks AS
  SELECT t.id, t.title, t.status, t.due_on, p.name AS project, a.display_name AS assignee
  FROM tasks t
  JOIN projects p ON p.id = t.project_id
  LEFT JOIN accounts a ON a.id = t.assignee_id
  WHERE t.status <> 'done' AND NOT p.archived;
