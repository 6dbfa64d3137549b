// k6 provides `console` to scripts; @types/k6 does not declare it (it leaves it to lib "dom").
declare const console: {
  log(...data: unknown[]): void;
  info(...data: unknown[]): void;
  warn(...data: unknown[]): void;
  error(...data: unknown[]): void;
  debug(...data: unknown[]): void;
};
