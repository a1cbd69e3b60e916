// The review page works without JavaScript; this only submits a filter
// form when one of its menus changes.
document.addEventListener('change', function (e) {
  var el = e.target;
  if (el.classList && el.classList.contains('autosubmit') && el.form) {
    el.form.submit();
  }
});
