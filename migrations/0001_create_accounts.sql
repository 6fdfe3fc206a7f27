-- People who sign in. Email is unique regardless of case.
CREATE TABLE accounts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email text NOT NULL,
  display_name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT accounts_email_format CHECK (email LIKE '%_@_%')
);

CREATE UNIQUE INDEX accounts_email_key ON accounts (lower(email));
