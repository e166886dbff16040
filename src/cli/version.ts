// The version of this build: the bundle defines HARNESS_VERSION from package.json
// (scripts/build.mjs); run from the sources (tests through tsx), it is "dev".
declare const HARNESS_VERSION: string | undefined;

export const version = typeof HARNESS_VERSION === 'string' ? HARNESS_VERSION : 'dev';
