export { DaytonaProvider, INSTALLATION_LABEL, type DaytonaProviderOptions } from "./provider.js";
