// Site fixes for 大语言模型应用指南, loaded on every page (listed in _config.yml as html_js_files;
// this folder, book/site/, is in html_static_path and is copied to _build/html/_static/).
//
// Sidebar buttons. sphinx-book-theme 1.3 with pydata-sphinx-theme 0.17 renders two buttons of
// each kind: pydata's own in the top navbar (hidden by sphinx-book-theme's CSS) and the visible
// ☰ / contents buttons in the article header. Both themes bind their click handlers to the FIRST
// `.primary-toggle` / `.secondary-toggle` on the page, i.e. to the hidden one, so tapping the
// visible ☰ on a phone opened nothing and clicking it on a desktop did not collapse the sidebar
// (pydata-sphinx-theme#2451, sphinx-book-theme#988). A click on any other toggle of the same
// kind is forwarded to that first button, where the themes' own handlers then do their work:
// sphinx-book-theme collapses the sidebar on wide screens, pydata-sphinx-theme opens the sidebar
// dialog on narrow ones. Once upstream binds every button, or renders only one, the forwarded
// click still lands on a bound button (or nothing is forwarded), so this stays harmless.
(function () {
  "use strict";
  ["primary-toggle", "secondary-toggle"].forEach(function (kind) {
    document.addEventListener(
      "click",
      function (event) {
        var clicked = event.target instanceof Element ? event.target.closest("." + kind) : null;
        var bound = document.querySelector("." + kind);
        if (!clicked || !bound || clicked === bound) {
          return;
        }
        // capture phase on the document: runs before any handler on the button itself
        event.preventDefault();
        event.stopImmediatePropagation();
        bound.click();
      },
      true
    );
  });
})();

// MathJax 2 API for the widgets. ipywidgets 8's views (the HTML widget, for one) call
// `MathJax.Hub.Queue(["Typeset", MathJax.Hub, el])` after setting their content whenever
// `window.MathJax` exists. The site loads MathJax 3 (deferred), which has no `Hub`, so on a page
// with both formulas and such a widget every render threw "Cannot read properties of undefined
// (reading 'Queue')" (9.2's calculator). This script runs after the page's MathJax configuration
// and before MathJax itself: it adds a `startup.ready` that, once MathJax 3 is up, gives it a
// `Hub.Queue` that typesets the widget's element with MathJax 3's own `typesetPromise`.
(function () {
  "use strict";
  var config = window.MathJax;
  if (!config || config.version) {
    return;
  }
  config.startup = config.startup || {};
  var ready = config.startup.ready;
  config.startup.ready = function () {
    if (ready) {
      ready();
    } else {
      window.MathJax.startup.defaultReady();
    }
    if (!window.MathJax.Hub) {
      window.MathJax.Hub = {
        Queue: function (job) {
          var el = job && job[2];
          if (el && window.MathJax.typesetPromise) {
            window.MathJax.typesetPromise([el]).catch(function () {});
          }
        },
      };
    }
  };
})();
