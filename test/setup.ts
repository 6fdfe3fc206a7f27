// Loaded before every test file (see test/run.ts).
import '../rehearsal/promise-with-resolvers.ts';
