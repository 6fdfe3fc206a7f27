// node-postgres's client and its escaping helpers, imported from their own files (pg's package.json exports
// "./lib/*"), so that a bundle holds the client without the pool and the native binding it never uses: the migrate
// function's bundle is 17 KB smaller (bench/bundles.ts). @types/pg types the package's root only.
declare module 'pg/lib/client.js' {
  import { Client } from 'pg';
  export = Client;
}
declare module 'pg/lib/utils.js' {
  import type { escapeIdentifier, escapeLiteral } from 'pg';

  // CommonJS whose names Node's ES-module loader cannot see: import the default.
  const utils: { escapeIdentifier: typeof escapeIdentifier; escapeLiteral: typeof escapeLiteral };
  export = utils;
}
