/** The local (bubblewrap) sandbox provider. */
export { LocalProvider, type LocalProviderOptions } from "./provider.js";
export { PROJECT_DIR, SANDBOX_HOME, SANDBOX_USER } from "./constants.js";
export type { LimitsReport, LimitStatus } from "./limits.js";
