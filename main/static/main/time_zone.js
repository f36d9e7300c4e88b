// Sign-up: the browser's IANA time zone into the hidden field (the server falls back to TIME_ZONE without it).
document.addEventListener("DOMContentLoaded", function () {
  var field = document.querySelector('input[name="time_zone"]');
  if (!field || field.value) return;
  try {
    field.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch (error) {
    // An old browser without Intl: the server's zone it is.
  }
});
