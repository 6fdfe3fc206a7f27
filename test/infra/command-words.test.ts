import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { commandWords } from '../../infra/command-words.ts';

const words = (value: string) => commandWords(value, 'migrationCommand');

describe('a command given as one string', () => {
  it('splits on blanks', () => {
    assert.deepEqual(words('  python manage.py   migrate '), ['python', 'manage.py', 'migrate']);
  });

  it('keeps quoted words whole, without expanding anything', () => {
    assert.deepEqual(words(`bundle exec "rails db:migrate" 'VERSION=$X' a\\ b`), [
      'bundle',
      'exec',
      'rails db:migrate',
      'VERSION=$X',
      'a b',
    ]);
  });

  it('unescapes \\" and \\\\ inside double quotes, and keeps an empty quoted word', () => {
    assert.deepEqual(words(String.raw`echo "say \"hi\" \\ \n" ''`), ['echo', 'say "hi" \\ \\n', '']);
  });

  it('takes a JSON array as it is', () => {
    assert.deepEqual(words('["sh","-c","bin/migrate && bin/seed"]'), ['sh', '-c', 'bin/migrate && bin/seed']);
  });

  it('refuses unquoted shell operators, pointing at sh -c', () => {
    assert.throws(
      () => words('bin/migrate && bin/seed'),
      /migrationCommand: has the shell operator "&".*\["sh","-c"/,
    );
    assert.throws(() => words('echo $HOME'), /shell operator "\$"/);
  });

  it('refuses unterminated quotes, an empty command and a malformed array', () => {
    assert.throws(() => words(`echo "a`), /unterminated double quote/);
    assert.throws(() => words(`echo 'a`), /unterminated single quote/);
    assert.throws(() => words('   '), /is empty/);
    assert.throws(() => words('[1, 2]'), /non-empty JSON array of strings/);
    assert.throws(() => words('[oops'), /not a JSON array/);
  });
});
