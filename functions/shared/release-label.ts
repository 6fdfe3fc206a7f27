/**
 * What a release label may be: it names an S3 folder, a history row's `applied_by` and part of an execution
 * name. Kept apart from the zod schemas so the CLI can check a label without loading a validation library.
 */
export const RELEASE_LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const RELEASE_LABEL_RULE =
  'must be 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit';
