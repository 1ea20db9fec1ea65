// Comparison grid: while PSNR/SSIM against references are pending, ask how many still are, and
// reload the page once none is (the worker measures them after the renders land).
(() => {
  const bar = document.querySelector("[data-metrics-pending]");
  if (!bar || Number(bar.dataset.metricsPending) === 0) return;
  const url = bar.dataset.metricsUrl;
  const check = async () => {
    try {
      const answer = await fetch(url, { headers: { Accept: "application/json" } });
      const typing = document.querySelector("dialog[open], textarea:focus");
      if (answer.ok && (await answer.json()).pending === 0 && !typing) {
        window.location.reload();
        return;
      }
    } catch (error) {
      // the server restarting: try again later
    }
    window.setTimeout(check, 2500);
  };
  window.setTimeout(check, 2500);
})();
