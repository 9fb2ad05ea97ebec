// The nightly timer (03:00 in TZ, UTC by default): event is {triggerTime, triggerName, payload}.
exports.cleanup = async (event) => {
  console.log(`cleanup at ${event.triggerTime}: ${event.payload}`);
  return 'done';
};
