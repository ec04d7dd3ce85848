"use strict";
(() => {
  const data = JSON.parse(document.getElementById("report-data").textContent);
  let current = null;
  const fmt = t => { t = Math.max(0, t || 0); const m = Math.floor(t / 60); return m + ":" + (t - 60 * m).toFixed(1).padStart(4, "0"); };
  const play = a => { const p = a.play(); if (p) p.catch(() => {}); };
  class Group {
    constructor(el) {
      this.el = el; this.audios = [...el.querySelectorAll("audio")]; this.index = 0; this.playing = false;
      this.btn = el.querySelector("button.play"); this.seek = el.querySelector("input.seek");
      this.time = el.querySelector(".time"); this.match = el.querySelector("input.match");
      this.buttons = [...el.querySelectorAll("[data-choose]")];
      this.spec = (data.spectra || {})[el.dataset.group]; this.svg = el.querySelector("svg.spectrum");
      this.btn.addEventListener("click", () => (this.playing ? this.pause() : this.start()));
      this.seek.addEventListener("input", () => { const a = this.active; if (a.duration) a.currentTime = this.seek.value / 1000 * a.duration; this.show(); });
      this.buttons.forEach(b => b.addEventListener("click", () => this.choose(+b.dataset.choose)));
      const t = el.querySelector("button.toggle");
      if (t) t.addEventListener("click", () => this.choose(this.index === 0 ? 1 : 0));
      if (this.match) this.match.addEventListener("change", () => this.levels());
      this.audios.forEach(a => {
        a.addEventListener("timeupdate", () => { if (a === this.active) this.show(); });
        a.addEventListener("loadedmetadata", () => this.show());
        a.addEventListener("ended", () => { if (a === this.active) this.pause(); });
      });
      this.slider = el.querySelector("input.knob");
      if (this.slider) {
        this.values = JSON.parse(el.dataset.values); this.labels = JSON.parse(el.dataset.labels);
        this.slider.addEventListener("input", () => this.slide());
        this.slide();
      }
      this.levels(); this.mark(); this.show();
    }
    get active() { return this.audios[this.index]; }
    levels() { const on = !this.match || this.match.checked; this.audios.forEach(a => { a.volume = Math.min(1, on ? parseFloat(a.dataset.gain) : 1); }); }
    start() {
      if (current && current !== this) current.pause();
      current = this; this.playing = true; play(this.active);
      this.btn.innerHTML = "&#10074;&#10074; Pause"; this.el.classList.add("playing"); this.tick();
    }
    pause() {
      this.playing = false; this.audios.forEach(a => a.pause());
      this.btn.innerHTML = "&#9654; Play"; this.el.classList.remove("playing"); this.show();
    }
    choose(i) {
      if (i === this.index || i < 0 || i >= this.audios.length) return;
      const from = this.active, to = this.audios[i], t = from.currentTime;
      from.pause(); to.currentTime = t; this.index = i; this.mark();
      if (this.playing) play(to);
      this.show();
    }
    slide() {
      const v = parseFloat(this.slider.value); let best = 0;
      this.values.forEach((x, i) => { if (Math.abs(x - v) < Math.abs(this.values[best] - v)) best = i; });
      this.choose(best);
      const r = this.el.querySelector(".readout");
      if (r) r.textContent = this.el.dataset.discrete ? "playing: " + this.labels[best]
        : "set to " + (+v.toFixed(2)) + " \u2192 playing the render at " + this.labels[best];
      this.mark();
    }
    mark() {
      this.buttons.forEach(b => b.classList.toggle("on", +b.dataset.choose === this.index));
      this.el.dataset.active = this.index;
      this.el.querySelectorAll(".legend .key[data-series]").forEach(k => { k.style.fontWeight = +k.dataset.series === this.index ? "700" : "400"; });
    }
    show() {
      const a = this.active, d = a.duration || 0;
      this.time.textContent = fmt(a.currentTime) + " / " + fmt(d);
      if (d && document.activeElement !== this.seek) this.seek.value = Math.round(1000 * a.currentTime / d);
      this.draw();
    }
    tick() { if (!this.playing) return; this.show(); requestAnimationFrame(() => this.tick()); }
    draw() {
      const s = this.spec; if (!s || !this.svg) return;
      const y = d => s.y0 + (s.top - Math.max(s.bottom, Math.min(s.top, d))) / (s.top - s.bottom) * (s.y1 - s.y0);
      const pts = vals => vals.map((v, i) => s.xs[i] + "," + y(v).toFixed(1)).join(" ");
      const t = this.active.currentTime || 0;
      this.svg.querySelectorAll("polyline.line").forEach(l => {
        const i = +l.dataset.series, ser = s.series[i], shown = i === this.index || s.always.includes(i);
        const f = ser.frames[Math.min(ser.frames.length - 1, Math.floor(t / s.hop))];
        l.setAttribute("points", shown ? pts(f) : "");
        l.setAttribute("stroke-width", i === this.index ? "2.4" : "1.3");
        l.setAttribute("opacity", i === this.index ? "1" : "0.55");
      });
      this.svg.querySelector("polyline.avg").setAttribute("points", pts(s.series[this.index].avg));
    }
  }
  const groups = [...document.querySelectorAll(".group")].map(el => new Group(el));
  document.addEventListener("keydown", e => {
    if (!current || e.target.matches("input[type=range]")) return;
    if (e.key === "t" || e.key === "T") current.choose(current.index === 0 ? 1 : 0);
    if (e.key === " ") { e.preventDefault(); current.playing ? current.pause() : current.start(); }
  });
  window.ampcapReport = { groups };
})();
