// The TimerTick function's own code. A timer trigger: the raw event {data, metadata}; the
// result is the invocation's ReturnValue, and what it logs is the answer's Logs.
exports.handler = async (event, context) => {
  const timer = event.data.myTimer || {};
  console.log(`tick: past due ${Boolean(timer.IsPastDue)}`);
  context.log(`tick for ${context.azureFunctionName}`);
  return { ticked: true, pastDue: Boolean(timer.IsPastDue), next: (timer.ScheduleStatus || {}).Next || null };
};
