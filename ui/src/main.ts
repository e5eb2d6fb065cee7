import { mount } from "svelte";
import App from "./App.svelte";
import { ipc } from "./lib/ipc";
import "./app.css";

// The app has no console a user would see: what the page does not catch goes to the app's log.
window.addEventListener("error", (event) => {
  const place = event.filename ? `${event.filename}:${event.lineno}:${event.colno}` : null;
  void ipc.logUiError(String(event.error?.stack ?? event.message), place).catch(() => {});
});
window.addEventListener("unhandledrejection", (event) => {
  const reason = event.reason;
  const message = reason instanceof Error ? (reason.stack ?? reason.message) : JSON.stringify(reason);
  void ipc.logUiError(`unhandled rejection: ${message}`, null).catch(() => {});
});

const target = document.getElementById("app");
if (!target) throw new Error("index.html has no #app element");
mount(App, { target });
