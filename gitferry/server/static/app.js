// gitferry's few lines of script; htmx does the rest.
// Show error answers (a viewer's refused action, a run already finished) where the answer goes.
htmx.config.responseHandling = [
  { code: "204", swap: false },
  { code: "[23]..", swap: true },
  { code: "[45]..", swap: true, error: true },
];
// Keep a log that is being followed scrolled to its end.
document.addEventListener("htmx:sseMessage", (event) => {
  const log = event.detail.elt;
  if (log && log.classList && log.classList.contains("log")) {
    log.scrollTop = log.scrollHeight;
  }
});
