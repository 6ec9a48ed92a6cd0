// Moved to harness/ (the demo uses it too); this path keeps the tests' imports working.
export * from "../../../harness/model-server.js";
