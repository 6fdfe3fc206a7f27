/** lockstep's cache directory for this user, or undefined when the user has no home directory (./cache-directory.cjs). */
export declare function lockstepCacheDirectory(
  env?: Readonly<Record<string, string | undefined>>,
  platform?: NodeJS.Platform,
): string | undefined;
