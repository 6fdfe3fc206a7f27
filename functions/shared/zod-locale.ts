/**
 * English messages for zod's built-in checks ("Invalid input: expected string, received number"). zod/mini,
 * unlike zod, sets no locale, so without this every such issue would say only "Invalid input". Imported for
 * its effect by the modules that turn zod issues into errors. Only `en`: `z.locales` would put every locale
 * (~260 KB) into each Lambda bundle.
 */
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

z.config(en());
