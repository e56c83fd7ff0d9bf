// Automatic checkpoints of the agent shown (the seed's start/stop_automatic_checkpointing,
// §6.1): its own interval and maximum, kept by the store and run by `serve` and `ingest`.
import {$, api, el, enc, notify, request, problem, state} from "./core.js";

function when(value) {
  return value ? new Date(value).toLocaleString() : "–";
}

export async function loadSchedule() {
  if (!state.agent) return;
  const box = $("schedule");
  try {
    const answer = await api(`/agents/${enc(state.agent)}/auto-checkpoints`);
    const own = answer.schedules[0];
    $("schedule-stop").disabled = !own;
    if (own) {
      $("schedule-interval").value = own.interval_minutes;
      $("schedule-max").value = own.max_checkpoints;
    }
    box.dataset.state = own ? "running" : "default";
    box.replaceChildren(own
      ? el("span", {}, `every ${own.interval_minutes} min, keeping ${own.max_checkpoints}; ` +
        `next ${when(own.next_due_at)}, last capture ${when(own.last_capture_at)}` +
        (own.last_error ? ` (last error: ${own.last_error})` : ""))
      : el("span", {class: "muted"}, answer.default_interval_minutes
        ? `default: every ${answer.default_interval_minutes} min, keeping ` +
          `${answer.default_max_checkpoints}`
        : "no automatic checkpoints"));
  } catch (e) {
    box.replaceChildren(el("span", {class: "muted"}, e.message));
  }
}

export async function startSchedule() {
  const body = {interval_minutes: Number($("schedule-interval").value),
                max_checkpoints: Number($("schedule-max").value)};
  const answer = await request(`/agents/${enc(state.agent)}/auto-checkpoints`,
                               {method: "PUT", body: JSON.stringify(body)});
  notify(answer.ok, answer.ok ? `Automatic checkpoints of ${state.agent} started`
    : `Automatic checkpoints not started: ${problem(answer)}`);
  await loadSchedule();
}

export async function stopSchedule() {
  const answer = await request(`/agents/${enc(state.agent)}/auto-checkpoints`,
                               {method: "DELETE"});
  notify(answer.ok, answer.ok ? `Automatic checkpoints of ${state.agent} stopped`
    : `Automatic checkpoints not stopped: ${problem(answer)}`);
  await loadSchedule();
}
