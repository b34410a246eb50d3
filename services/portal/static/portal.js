// Progressive enhancement only: every page works without this file.
"use strict";

// Upload: show the bytes sent as a progress bar, then go to the result page.
(function () {
  var form = document.getElementById("upload-form");
  if (!form || !window.XMLHttpRequest || !window.FormData) return;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var bar = document.getElementById("upload-progress");
    var status = document.getElementById("upload-status");
    bar.hidden = false;
    document.getElementById("progress-label").hidden = false;
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) bar.value = Math.round(100 * e.loaded / e.total);
    });
    xhr.upload.addEventListener("load", function () {
      bar.value = 100;
      status.textContent = "Sent; intake is checking every record…";
    });
    xhr.addEventListener("load", function () {
      if (xhr.status < 400 && xhr.responseURL) { window.location.assign(xhr.responseURL); return; }
      document.open(); document.write(xhr.responseText); document.close();
    });
    xhr.addEventListener("error", function () { status.textContent = "The upload failed; try again."; });
    status.textContent = "Sending…";
    xhr.send(new FormData(form));
  });
})();

// Outcomes: new ones arrive as server-sent events and are added at the top.
(function () {
  var status = document.getElementById("feed-status");
  var list = document.getElementById("outcomes");
  if (!status || !list || !window.EventSource) return;
  var source = new EventSource(status.getAttribute("data-stream"));
  source.addEventListener("open", function () { status.textContent = "Live: new outcomes appear below."; });
  source.addEventListener("outcome", function (event) {
    var o = JSON.parse(event.data);
    var none = document.getElementById("no-outcomes");
    if (none) none.remove();
    var item = document.createElement("li");
    var title = document.createElement("strong");
    title.textContent = o.title;
    item.appendChild(title);
    item.appendChild(document.createTextNode(" (" + o.kind + ", " + o.date + ", " + o.unit + ")"));
    item.appendChild(document.createElement("br"));
    item.appendChild(document.createTextNode(o.summary));
    list.insertBefore(item, list.firstChild);
    status.textContent = "New: " + o.title;
  });
})();
