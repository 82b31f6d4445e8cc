#include "reports/html_report.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>

#include "core/text.h"

namespace llada {
namespace {

std::string Percent(double value) { return FormatFixed(100.0 * value, 1); }
// Three significant digits at most: 0.0123, 1.23, 123, 1234.
std::string FormatSpeed(double value) {
  return value >= 100 ? FormatFixed(value, 0) : FormatFixed(value, value >= 10 ? 1 : 2);
}

std::string Anchor(int64_t run_id, const std::string& task) {
  std::string id = "samples-" + std::to_string(run_id) + "-";
  for (char c : task) id.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return id;
}

constexpr const char* kStyle = R"(
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d2330;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #dde2ea;padding-bottom:4px}
.muted{color:#5b6474}table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #dde2ea;padding:4px 8px;vertical-align:top}
th{background:#f3f5f9;text-align:left}th.sortable{cursor:pointer;user-select:none}th.sortable:after{content:" \2195";color:#9aa3b2}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.reported td{background:#fbf8ef;font-style:italic}.kind{font-size:11px;padding:1px 6px;border-radius:8px;background:#e7ecf5}
.kind-LLaDA{background:#dcefe3}.kind-ARM{background:#e6e3f5}.kind-reported{background:#f5ecd5}
.se{color:#7a8292;font-size:12px}a{color:#2a5bd7;text-decoration:none}a:hover{text-decoration:underline}
.charts{display:flex;flex-wrap:wrap;gap:16px}.chart{border:1px solid #dde2ea;padding:8px;border-radius:6px}
pre{white-space:pre-wrap;word-break:break-word;max-height:240px;overflow:auto;margin:0;font-size:12px;background:#f7f8fb;padding:4px}
details{margin:6px 0}summary{cursor:pointer;font-weight:600}.pos{color:#1b7f3b}.neg{color:#b3261e}
)";

// Sorting by column (numbers numerically), opening a cell's samples, and a
// marker the browser test reads to know the script ran to the end.
constexpr const char* kScript = R"(
(function () {
  function key(cell) {
    var v = cell.getAttribute('data-sort');
    if (v === null) v = cell.textContent.trim();
    var f = parseFloat(v);
    return isNaN(f) ? v.toLowerCase() : f;
  }
  document.querySelectorAll('table.sortable').forEach(function (table) {
    table.querySelectorAll('th.sortable').forEach(function (th, index) {
      th.addEventListener('click', function () {
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var descending = th.getAttribute('data-dir') !== 'desc';
        th.setAttribute('data-dir', descending ? 'desc' : 'asc');
        rows.sort(function (a, b) {
          var x = key(a.cells[index]), y = key(b.cells[index]);
          if (x === y) return 0;
          if (x === '' || x === '\u2013') return 1;
          if (y === '' || y === '\u2013') return -1;
          return (x < y ? -1 : 1) * (descending ? -1 : 1);
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
  document.querySelectorAll('a.drill').forEach(function (link) {
    link.addEventListener('click', function () {
      var target = document.getElementById(link.getAttribute('href').slice(1));
      if (target) target.open = true;
    });
  });
  document.body.setAttribute('data-ready', '1');
})();
)";

std::string BarChart(const HtmlReportInput& input, const std::string& task) {
  struct Bar {
    std::string label;
    double value;
    std::optional<double> se;
    bool reported;
  };
  std::vector<Bar> bars;
  for (const auto& row : input.rows) {
    auto it = row.cells.find(task);
    if (it == row.cells.end()) continue;
    bars.push_back({row.model + (row.setting.empty() ? "" : " · " + row.setting), it->second.value,
                    it->second.stderr_value, row.reported});
  }
  if (bars.empty()) return "";
  const int label_width = 260, plot_width = 260, row_height = 20, top = 24;
  const int height = top + static_cast<int>(bars.size()) * row_height + 24;
  std::ostringstream svg;
  svg << "<div class=\"chart\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << label_width + plot_width + 60
      << "\" height=\"" << height << "\" role=\"img\" aria-label=\"" << HtmlEscape(task) << "\">";
  svg << "<text x=\"0\" y=\"14\" font-weight=\"600\" font-size=\"13\">" << HtmlEscape(task) << "</text>";
  svg << "<text x=\"" << label_width << "\" y=\"14\" font-size=\"11\" fill=\"#5b6474\">"
      << HtmlEscape(input.task_metrics.count(task) ? input.task_metrics.at(task) : "") << ", 95% interval</text>";
  for (int tick = 0; tick <= 4; ++tick) {
    const double x = label_width + plot_width * tick / 4.0;
    svg << "<line x1=\"" << x << "\" x2=\"" << x << "\" y1=\"" << top - 4 << "\" y2=\"" << height - 20
        << "\" stroke=\"#e4e8ef\"/><text x=\"" << x << "\" y=\"" << height - 6
        << "\" font-size=\"10\" text-anchor=\"middle\" fill=\"#7a8292\">" << tick * 25 << "%</text>";
  }
  for (size_t i = 0; i < bars.size(); ++i) {
    const Bar& bar = bars[i];
    const double y = top + static_cast<double>(i) * row_height;
    const double clamped = std::clamp(bar.value, 0.0, 1.0);
    std::string label = bar.label.size() > 44 ? bar.label.substr(0, 43) + "…" : bar.label;
    svg << "<text x=\"" << label_width - 6 << "\" y=\"" << y + 13 << "\" font-size=\"11\" text-anchor=\"end\">"
        << HtmlEscape(label) << "</text>";
    svg << "<rect x=\"" << label_width << "\" y=\"" << y + 3 << "\" width=\"" << plot_width * clamped << "\" height=\""
        << row_height - 6 << "\" fill=\"" << (bar.reported ? "#e0c98f" : "#6d8fd6") << "\"><title>"
        << HtmlEscape(bar.label) << ": " << Percent(bar.value) << "%</title></rect>";
    if (bar.se) {
      const double low = std::clamp(bar.value - 1.96 * *bar.se, 0.0, 1.0);
      const double high = std::clamp(bar.value + 1.96 * *bar.se, 0.0, 1.0);
      const double mid = y + row_height / 2.0;
      svg << "<path d=\"M" << label_width + plot_width * low << " " << mid << "H" << label_width + plot_width * high
          << "M" << label_width + plot_width * low << " " << mid - 4 << "V" << mid + 4 << "M"
          << label_width + plot_width * high << " " << mid - 4 << "V" << mid + 4
          << "\" stroke=\"#1d2330\" stroke-width=\"1.2\" fill=\"none\"/>";
    }
    svg << "<text x=\"" << label_width + plot_width + 6 << "\" y=\"" << y + 13 << "\" font-size=\"11\">"
        << Percent(bar.value) << "</text>";
  }
  svg << "</svg></div>";
  return svg.str();
}

// Accuracy (95% interval) against generated tokens per second (log scale),
// one point per run of the task: what a decoding setting buys and costs.
std::string SpeedChart(const HtmlReportInput& input, const std::string& task) {
  std::vector<const SpeedPoint*> points;
  for (const auto& point : input.speed)
    if (point.task == task && point.tokens_per_second > 0) points.push_back(&point);
  if (points.empty()) return "";
  double low = points.front()->tokens_per_second, high = low;
  for (const auto* point : points) {
    low = std::min(low, point->tokens_per_second);
    high = std::max(high, point->tokens_per_second);
  }
  const double log_low = std::floor(std::log10(low)), log_high = std::max(log_low + 1, std::ceil(std::log10(high)));
  const int left = 50, plot_width = 360, top = 40, plot_height = 200, legend_row = 14;
  const int height = top + plot_height + 30 + legend_row * static_cast<int>(points.size());
  auto x_of = [&](double tps) { return left + plot_width * (std::log10(tps) - log_low) / (log_high - log_low); };
  auto y_of = [&](double value) { return top + plot_height * (1.0 - std::clamp(value, 0.0, 1.0)); };
  std::ostringstream svg;
  svg << "<div class=\"chart\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << left + plot_width + 440
      << "\" height=\"" << height << "\" role=\"img\" aria-label=\"" << HtmlEscape(task)
      << " accuracy against speed\">";
  svg << "<text x=\"0\" y=\"14\" font-weight=\"600\" font-size=\"13\">" << HtmlEscape(task) << "</text>";
  svg << "<text x=\"0\" y=\"28\" font-size=\"11\" fill=\"#5b6474\">"
      << HtmlEscape(input.task_metrics.count(task) ? input.task_metrics.at(task) : "")
      << " (95% interval) against generated tokens/s of model time</text>";
  for (int tick = 0; tick <= 4; ++tick) {
    const double y = y_of(tick / 4.0);
    svg << "<line x1=\"" << left << "\" x2=\"" << left + plot_width << "\" y1=\"" << y << "\" y2=\"" << y
        << "\" stroke=\"#e4e8ef\"/><text x=\"" << left - 6 << "\" y=\"" << y + 4
        << "\" font-size=\"10\" text-anchor=\"end\" fill=\"#7a8292\">" << tick * 25 << "%</text>";
  }
  for (double decade = log_low; decade <= log_high; ++decade) {
    const double x = x_of(std::pow(10.0, decade));
    svg << "<line x1=\"" << x << "\" x2=\"" << x << "\" y1=\"" << top << "\" y2=\"" << top + plot_height
        << "\" stroke=\"#e4e8ef\"/><text x=\"" << x << "\" y=\"" << top + plot_height + 14
        << "\" font-size=\"10\" text-anchor=\"middle\" fill=\"#7a8292\">" << FormatSpeed(std::pow(10.0, decade))
        << "</text>";
  }
  static const char* const kColors[] = {"#3461c1", "#c1442e", "#2e8b57", "#b8860b", "#7b4bb7", "#2a9bb0"};
  for (size_t i = 0; i < points.size(); ++i) {
    const SpeedPoint& point = *points[i];
    const char* color = kColors[i % (sizeof(kColors) / sizeof(kColors[0]))];
    const double x = x_of(point.tokens_per_second), y = y_of(point.value);
    const std::string label = point.model + " · " + point.setting + " (run " + std::to_string(point.run_id) + ")";
    if (point.stderr_value) {
      svg << "<path d=\"M" << x << " " << y_of(point.value - 1.96 * *point.stderr_value) << "V"
          << y_of(point.value + 1.96 * *point.stderr_value) << "\" stroke=\"" << color << "\" stroke-width=\"1.5\"/>";
    }
    svg << "<circle cx=\"" << x << "\" cy=\"" << y << "\" r=\"4\" fill=\"" << color << "\"><title>" << HtmlEscape(label)
        << ": " << Percent(point.value) << "% at " << FormatSpeed(point.tokens_per_second) << " tokens/s, "
        << FormatSpeed(point.tokens_per_forward) << " tokens per forward</title></circle>";
    const double legend_y = top + plot_height + 30 + legend_row * static_cast<double>(i);
    svg << "<circle cx=\"" << left << "\" cy=\"" << legend_y - 4 << "\" r=\"4\" fill=\"" << color << "\"/><text x=\""
        << left + 10 << "\" y=\"" << legend_y << "\" font-size=\"11\">" << HtmlEscape(label) << ": "
        << Percent(point.value) << "%, " << FormatSpeed(point.tokens_per_second) << " tokens/s</text>";
  }
  svg << "</svg></div>";
  return svg.str();
}

// Few-shot minus zero-shot with its 95% interval, one line per study row.
std::string StudyChart(const std::vector<StudyRow>& study) {
  if (study.empty()) return "";
  double span = 0.05;
  for (const auto& row : study) span = std::max({span, std::fabs(row.ci_low), std::fabs(row.ci_high)});
  const int label_width = 340, plot_width = 320, row_height = 20, top = 20;
  const int height = top + static_cast<int>(study.size()) * row_height + 24;
  const auto x_of = [&](double delta) { return label_width + plot_width * (0.5 + delta / (2 * span)); };
  std::ostringstream svg;
  svg << "<div class=\"chart\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << label_width + plot_width + 70
      << "\" height=\"" << height << "\" role=\"img\" aria-label=\"few-shot minus zero-shot\">";
  svg << "<line x1=\"" << x_of(0) << "\" x2=\"" << x_of(0) << "\" y1=\"" << top - 6 << "\" y2=\"" << height - 20
      << "\" stroke=\"#9aa3b2\" stroke-dasharray=\"3 3\"/>";
  for (double tick : {-span, 0.0, span})
    svg << "<text x=\"" << x_of(tick) << "\" y=\"" << height - 6 << "\" font-size=\"10\" text-anchor=\"middle\" "
        << "fill=\"#7a8292\">" << (tick > 0 ? "+" : "") << Percent(tick) << "</text>";
  for (size_t i = 0; i < study.size(); ++i) {
    const StudyRow& row = study[i];
    const double mid = top + static_cast<double>(i) * row_height + row_height / 2.0;
    const std::string label = row.model + " · " + row.task + " · " + std::to_string(row.shots) + "-shot";
    svg << "<text x=\"" << label_width - 6 << "\" y=\"" << mid + 4 << "\" font-size=\"11\" text-anchor=\"end\">"
        << HtmlEscape(label.size() > 58 ? label.substr(0, 57) + "…" : label) << "</text>";
    const std::string color = row.ci_low > 0 ? "#1b7f3b" : row.ci_high < 0 ? "#b3261e" : "#5b6474";
    svg << "<path d=\"M" << x_of(row.ci_low) << " " << mid << "H" << x_of(row.ci_high) << "\" stroke=\"" << color
        << "\" stroke-width=\"2\"/><circle cx=\"" << x_of(row.delta) << "\" cy=\"" << mid << "\" r=\"4\" fill=\""
        << color << "\"><title>" << HtmlEscape(label) << ": " << Percent(row.delta) << " points ["
        << Percent(row.ci_low) << ", " << Percent(row.ci_high) << "]</title></circle>";
    svg << "<text x=\"" << label_width + plot_width + 6 << "\" y=\"" << mid + 4 << "\" font-size=\"11\">"
        << (row.delta >= 0 ? "+" : "") << Percent(row.delta) << "</text>";
  }
  svg << "</svg></div>";
  return svg.str();
}

}  // namespace

std::string HtmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string RenderHtmlReport(const HtmlReportInput& input) {
  std::set<std::string> with_samples;
  for (const auto& cell : input.samples) with_samples.insert(Anchor(cell.run_id, cell.task));
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
       << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
       << "<title>" << HtmlEscape(input.title) << "</title><style>" << kStyle << "</style></head><body>\n";
  html << "<h1>" << HtmlEscape(input.title) << "</h1><div class=\"muted\">generated " << HtmlEscape(input.generated_at)
       << " · " << input.runs.size() << " runs · " << input.rows.size() << " leaderboard rows</div>\n";

  // Leaderboard.
  html << "<h2 id=\"leaderboard\">Leaderboard</h2><p class=\"muted\">Headline metric per task in percent, ± its "
          "standard error. Click a column to sort, a measured cell for its samples. Italic rows are numbers "
          "reported in papers ("
       << HtmlEscape(input.reported_source) << "), not measured here.</p>\n";
  html << "<table class=\"sortable\" id=\"leaderboard-table\"><thead><tr><th class=\"sortable\">model</th>"
       << "<th class=\"sortable\">kind</th><th class=\"sortable\">setting</th>";
  for (const auto& task : input.tasks)
    html << "<th class=\"sortable\" title=\""
         << HtmlEscape(input.task_metrics.count(task) ? input.task_metrics.at(task) : "") << "\">" << HtmlEscape(task)
         << "</th>";
  html << "</tr></thead><tbody>\n";
  for (const auto& row : input.rows) {
    html << "<tr class=\"" << (row.reported ? "reported" : "measured") << "\" data-model=\"" << HtmlEscape(row.model)
         << "\"><td>" << HtmlEscape(row.model) << "</td><td><span class=\"kind kind-" << HtmlEscape(row.kind) << "\">"
         << HtmlEscape(row.kind) << "</span></td><td>" << HtmlEscape(row.setting) << "</td>";
    for (const auto& task : input.tasks) {
      auto it = row.cells.find(task);
      if (it == row.cells.end()) {
        html << "<td class=\"num\" data-sort=\"\">–</td>";
        continue;
      }
      const LeaderboardCell& cell = it->second;
      html << "<td class=\"num\" data-sort=\"" << FormatFixed(cell.value, 6) << "\" title=\"" << HtmlEscape(cell.metric)
           << ", " << cell.num_fewshot << "-shot" << (cell.run_id ? ", run " + std::to_string(cell.run_id) : "")
           << (cell.n ? ", n=" + std::to_string(cell.n) : "") << "\">";
      const std::string anchor = Anchor(cell.run_id, task);
      const bool linked = cell.run_id && with_samples.count(anchor);
      if (linked) html << "<a class=\"drill\" href=\"#" << anchor << "\">";
      html << Percent(cell.value);
      if (linked) html << "</a>";
      if (cell.stderr_value) html << " <span class=\"se\">±" << Percent(*cell.stderr_value) << "</span>";
      html << "</td>";
    }
    html << "</tr>\n";
  }
  html << "</tbody></table>\n";

  // Charts.
  html << "<h2 id=\"charts\">Per-task charts</h2><div class=\"charts\">";
  for (const auto& task : input.tasks) html << BarChart(input, task);
  html << "</div>\n";

  // Accuracy against speed, for generation tasks with measured speed.
  std::string speed_charts;
  for (const auto& task : input.tasks) speed_charts += SpeedChart(input, task);
  if (!speed_charts.empty())
    html << "<h2 id=\"speed\">Accuracy against speed</h2><p class=\"muted\">One point per run: its decoding "
            "settings, the headline metric with its 95% interval, and generated tokens per second of model time "
            "(warm-up excluded). Compare settings of one model measured on one machine.</p><div class=\"charts\">"
         << speed_charts << "</div>\n";

  // Zero/few-shot.
  html << "<h2 id=\"fewshot\">Zero-shot and few-shot</h2>";
  if (input.study.empty()) {
    html << "<p class=\"muted\">No model has runs at 0 shots and at more shots on the same task (see "
            "<code>llada-eval study</code>).</p>\n";
  } else {
    html << "<p class=\"muted\">Few-shot minus zero-shot, paired on the documents both runs scored; 95% bootstrap "
            "interval; p from McNemar's exact test (0/1 scores) or the bootstrap.</p>\n";
    html << "<table class=\"sortable\" id=\"study-table\"><thead><tr>";
    for (const char* head :
         {"model", "setting", "task", "metric", "shots", "n", "0-shot", "k-shot", "Δ (points)", "95% interval", "p"})
      html << "<th class=\"sortable\">" << head << "</th>";
    html << "</tr></thead><tbody>\n";
    for (const auto& row : input.study) {
      const std::string sign = row.ci_low > 0 ? "pos" : row.ci_high < 0 ? "neg" : "";
      html << "<tr><td>" << HtmlEscape(row.model) << "</td><td>" << HtmlEscape(row.setting) << "</td><td>"
           << HtmlEscape(row.task) << "</td><td>" << HtmlEscape(row.metric) << "</td><td class=\"num\">" << row.shots
           << "</td><td class=\"num\">" << row.n << "</td><td class=\"num\">" << Percent(row.zero_shot)
           << "</td><td class=\"num\">" << Percent(row.few_shot) << "</td><td class=\"num " << sign << "\" data-sort=\""
           << FormatFixed(row.delta, 6) << "\">" << (row.delta >= 0 ? "+" : "") << Percent(row.delta)
           << "</td><td class=\"num\">[" << Percent(row.ci_low) << ", " << Percent(row.ci_high)
           << "]</td><td class=\"num\">" << FormatFixed(row.p_value, 4) << "</td></tr>\n";
    }
    html << "</tbody></table>\n" << StudyChart(input.study);
  }

  // Runs.
  html << "<h2 id=\"runs\">Runs</h2><table class=\"sortable\" id=\"runs-table\"><thead><tr>";
  for (const char* head : {"run", "model", "kind", "tasks", "shots", "setting", "status", "started", "finished",
                           "harness", "git", "host", "machine", "config"})
    html << "<th class=\"sortable\">" << head << "</th>";
  html << "</tr></thead><tbody>\n";
  for (const auto& run : input.runs) {
    html << "<tr><td class=\"num\">" << run.id << "</td><td>" << HtmlEscape(run.model) << "</td><td>"
         << HtmlEscape(run.kind) << "</td><td>" << HtmlEscape(run.tasks) << "</td><td>" << HtmlEscape(run.shots)
         << "</td><td>" << HtmlEscape(run.setting) << "</td><td>" << HtmlEscape(run.status) << "</td><td>"
         << HtmlEscape(run.started_at) << "</td><td>" << HtmlEscape(run.finished_at) << "</td><td>"
         << HtmlEscape(run.harness_version) << "</td><td>" << HtmlEscape(run.git_sha) << "</td><td>"
         << HtmlEscape(run.host) << "</td><td>" << HtmlEscape(run.machine) << "</td><td><details><summary>"
         << HtmlEscape(run.config_hash.substr(0, 12)) << "</summary><pre>" << HtmlEscape(run.config.dump(2))
         << "</pre></details></td></tr>\n";
  }
  html << "</tbody></table>\n";

  // Samples.
  html << "<h2 id=\"samples\">Samples</h2>\n";
  for (const auto& cell : input.samples) {
    html << "<details id=\"" << Anchor(cell.run_id, cell.task) << "\"><summary>run " << cell.run_id << " · "
         << HtmlEscape(cell.task) << " · " << cell.samples.size() << " of " << cell.total
         << " documents</summary><table><thead><tr><th>doc</th><th>prompt</th><th>response</th><th>extracted</th>"
         << "<th>target</th><th>score</th></tr></thead><tbody>\n";
    for (const auto& sample : cell.samples) {
      html << "<tr><td class=\"num\">" << sample.doc_index << "</td><td><pre>" << HtmlEscape(sample.prompt)
           << "</pre></td><td><pre>" << HtmlEscape(sample.response) << "</pre></td><td><pre>"
           << HtmlEscape(sample.extracted) << "</pre></td><td><pre>" << HtmlEscape(sample.target) << "</pre></td><td>"
           << HtmlEscape(sample.score);
      if (!sample.error.empty()) html << "<div class=\"neg\">" << HtmlEscape(sample.error) << "</div>";
      html << "</td></tr>\n";
    }
    html << "</tbody></table></details>\n";
  }
  html << "<script>" << kScript << "</script>\n</body></html>\n";
  return html.str();
}

}  // namespace llada
