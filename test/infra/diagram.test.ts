import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toMermaid } from '../../infra/diagram.ts';

test('draws states by type, choice rules, and failure edges dotted', () => {
  const mermaid = toMermaid({
    StartAt: 'Plan',
    States: {
      Plan: { Type: 'Task', Next: 'Route', Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Release failed' }] },
      Route: {
        Type: 'Choice',
        Choices: [{ Variable: '$.plan.pendingCount', NumericEquals: 0, Next: 'Released' }],
        Default: 'Wait',
      },
      Wait: { Type: 'Wait', Next: 'Released' },
      Released: { Type: 'Succeed' },
      'Release failed': { Type: 'Fail' },
    },
  });
  assert.equal(
    mermaid,
    [
      'flowchart TD',
      '  start(((start))) --> s0',
      '  s0["Plan"]',
      '  s0 --> s1',
      '  s0 -.->|States.ALL| s4',
      '  s1{"Route"}',
      '  s1 -->|pendingCount = 0| s3',
      '  s1 -->|otherwise| s2',
      '  s2[/"Wait"/]',
      '  s2 --> s3',
      '  s3(["Released"])',
      '  s4[["Release failed"]]',
      '  classDef failure fill:#fde2e1,stroke:#c0392b',
      '  class s4 failure',
      '  classDef success fill:#e3f6e8,stroke:#1e8449',
      '  class s3 success',
      '',
    ].join('\n'),
  );
});

test('labels compound choice rules in words, without characters Mermaid reads as syntax', () => {
  const mermaid = toMermaid({
    StartAt: 'Readable?',
    States: {
      'Readable?': {
        Type: 'Choice',
        Choices: [
          {
            And: [
              { Variable: '$.failure.error.Cause', IsString: true },
              { Variable: '$.failure.error.Cause', StringMatches: '{"errorType":"*","trace":["*"]}' },
            ],
            Next: 'Done',
          },
          {
            Not: {
              Or: [
                { Variable: '$.a', IsNull: true },
                { Variable: '$.b', BooleanEquals: false },
              ],
            },
            Next: 'Done',
          },
        ],
        Default: 'Done',
      },
      Done: { Type: 'Succeed' },
    },
  });
  assert.ok(
    mermaid.includes('  s0 -->|Cause IsString true and Cause StringMatches errorType:*,trace:*| s1'),
    mermaid,
  );
  assert.ok(mermaid.includes('  s0 -->|not a IsNull true or b = false| s1'), mermaid);
});
