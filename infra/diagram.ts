/**
 * A Mermaid flowchart of a state machine definition (ASL), for `lockstep diagram` and the README. Generated
 * from the synthesized definition, so the picture cannot drift from what deploys.
 */

interface AslState {
  readonly Type: string;
  readonly Next?: string;
  readonly End?: boolean;
  readonly Default?: string;
  readonly Choices?: ReadonlyArray<{ readonly Next: string } & Record<string, unknown>>;
  readonly Catch?: ReadonlyArray<{ readonly Next: string; readonly ErrorEquals: readonly string[] }>;
  readonly Retry?: ReadonlyArray<{ readonly ErrorEquals: readonly string[] }>;
}

/** Any ASL definition: only the fields the picture needs are read. */
export interface AslDefinition {
  readonly StartAt: string;
  readonly States: Readonly<Record<string, unknown>>;
}

/** Mermaid `flowchart TD` source; failure edges are dotted, states are shaped by type. */
export function toMermaid(asl: AslDefinition): string {
  const definition = asl as { StartAt: string; States: Readonly<Record<string, AslState>> };
  const names = Object.keys(definition.States);
  const id = new Map(names.map((name, i) => [name, `s${i}`]));
  const ref = (name: string) => id.get(name) ?? 'unknown';
  const label = (name: string) => name.replace(/"/g, "'");
  const lines = ['flowchart TD', `  start(((start))) --> ${ref(definition.StartAt)}`];
  for (const [name, state] of Object.entries(definition.States)) {
    const node = ref(name);
    const shape =
      state.Type === 'Choice'
        ? `{"${label(name)}"}`
        : state.Type === 'Succeed'
          ? `(["${label(name)}"])`
          : state.Type === 'Fail'
            ? `[["${label(name)}"]]`
            : state.Type === 'Wait'
              ? `[/"${label(name)}"/]`
              : `["${label(name)}"]`;
    lines.push(`  ${node}${shape}`);
    if (state.Next) lines.push(`  ${node} --> ${ref(state.Next)}`);
    for (const choice of state.Choices ?? [])
      lines.push(`  ${node} -->|${describeChoice(choice)}| ${ref(choice.Next)}`);
    if (state.Default) lines.push(`  ${node} -->|otherwise| ${ref(state.Default)}`);
    for (const c of state.Catch ?? [])
      lines.push(`  ${node} -.->|${c.ErrorEquals.join(', ')}| ${ref(c.Next)}`);
  }
  const failures = names.filter((n) => definition.States[n]?.Type === 'Fail').map(ref);
  const successes = names.filter((n) => definition.States[n]?.Type === 'Succeed').map(ref);
  if (failures.length)
    lines.push(`  classDef failure fill:#fde2e1,stroke:#c0392b`, `  class ${failures.join(',')} failure`);
  if (successes.length)
    lines.push(`  classDef success fill:#e3f6e8,stroke:#1e8449`, `  class ${successes.join(',')} success`);
  return `${lines.join('\n')}\n`;
}

/** A short edge label for a Choice rule: `dryRun = true`, `pendingCount = 0`, `Cause IsString true and …`. */
function describeChoice(choice: Record<string, unknown>): string {
  // Mermaid reads these characters inside an edge label as syntax.
  return describeRule(choice).replace(/[|"{}[\]()]/g, '');
}

function describeRule(rule: Record<string, unknown>): string {
  const nested = (key: 'And' | 'Or') =>
    Array.isArray(rule[key])
      ? (rule[key] as Record<string, unknown>[]).map(describeRule).join(` ${key.toLowerCase()} `)
      : undefined;
  const compound = nested('And') ?? nested('Or');
  if (compound) return compound;
  if (rule.Not && typeof rule.Not === 'object')
    return `not ${describeRule(rule.Not as Record<string, unknown>)}`;
  const variable =
    String(rule.Variable ?? '')
      .split('.')
      .pop() ?? '';
  for (const [key, value] of Object.entries(rule)) {
    if (key === 'Variable' || key === 'Next') continue;
    return `${variable} ${key.includes('Equals') ? '=' : key} ${String(value)}`;
  }
  return variable;
}
