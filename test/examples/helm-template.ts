/**
 * Renders the small subset of Helm's template language our chart uses — `{{ .Values.a.b }}`, `{{ .Release.Name }}`,
 * `{{ .Chart.Name }}`, each optionally `| quote` — so a test can validate what Helm would apply. Anything else in
 * `{{ … }}` throws: the chart must stay within what this renders, or the test would check something else.
 */
type Scope = Record<string, unknown>;

function lookup(scope: Scope, path: string): unknown {
  let value: unknown = scope;
  for (const key of path.split('.').filter(Boolean)) {
    if (!value || typeof value !== 'object' || !(key in value)) throw new Error(`no value at .${path}`);
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

export function renderHelmTemplate(template: string, scope: Scope): string {
  return template.replace(/\{\{-?\s*(.*?)\s*-?\}\}/g, (_, expression: string) => {
    const match = /^\.((?:Values|Release|Chart)(?:\.\w+)+)(\s*\|\s*quote)?$/.exec(expression);
    if (!match?.[1]) throw new Error(`the test's renderer does not handle {{ ${expression} }}`);
    const value = lookup(scope, match[1]);
    return match[2] ? JSON.stringify(String(value)) : String(value);
  });
}
