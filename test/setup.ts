// Loaded before every test file (see test/run.ts).
import '../infra/promise-with-resolvers.ts';
