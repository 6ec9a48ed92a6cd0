/** Fixed paths inside every local sandbox; callers may rely on them. */
export const PROJECT_DIR = "/workspace";
export const SANDBOX_USER = "user";
export const SANDBOX_HOME = `/home/${SANDBOX_USER}`;
/** The agent's socket directory inside the sandbox. */
export const RUN_DIR_INSIDE = "/run/opencode";
export const AGENT_INSIDE = "/opt/opencode-sandbox/agent.cjs";
export const RUNTIME_INSIDE = "/opt/opencode-sandbox/runtime";
export const SANDBOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/** Host uids handed to sandboxes when OpenCode runs as root: far above real and subordinate ids. */
export const UID_BASE = 1_000_000_000;
export const UID_RANGE = 1_000_000;
/** Sandbox ids become directory names and socket paths: keep them short and plain. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** sockaddr_un.sun_path is 108 bytes including the NUL. */
export const MAX_SOCKET_PATH = 107;
