// index.html: the explanations of one `scenecam explain` run on one page that works opened from
// disk (images are relative links to the PNGs beside it; no script or style is fetched).
#include <filesystem>
#include <sstream>

#include "app/explain_outputs.hpp"
#include "internal/files.hpp"
#include "internal/html.hpp"

namespace scenecam {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string number(const json& value, int digits = 3) {
  if (!value.is_number()) return "&ndash;";
  std::ostringstream s;
  s.precision(digits);
  s << std::fixed << value.get<double>();
  return s.str();
}

const char* kStyle = R"(body{font-family:sans-serif;margin:24px;color:#222}
table{border-collapse:collapse;margin-bottom:24px}td,th{border:1px solid #ccc;padding:4px 6px;
vertical-align:top;font-size:13px}th{background:#f2f2f2}img.map{width:128px;height:128px;
image-rendering:pixelated;display:block}.wrong{color:#c0392b}.flag{color:#c0392b;font-weight:bold}
.small{font-size:12px;color:#555})";

// One row per image: its input and each method's overlay.
void image_rows(std::ostream& html, const json& manifest, const std::vector<std::string>& methods) {
  html << "<table><tr><th>image</th><th>input</th>";
  for (const std::string& m : methods)
    html << "<th>" << html_escape(m) << "</th>";
  html << "</tr>\n";
  for (const json& item : manifest.at("images")) {
    const std::string pred = item.value("predicted", ""), truth = item.value("true", "");
    html << "<tr><td>" << html_escape(fs::path(item.value("file", "")).filename().string())
         << "<br><span class=\"" << (!truth.empty() && truth != pred ? "wrong" : "small") << "\">"
         << (truth.empty() ? "" : "true " + html_escape(truth) + "<br>") << "pred " << html_escape(pred)
         << " (" << number(item.value("probability", json()), 2)
         << ")</span></td><td><img class=\"map\" src=\"" << html_escape(item.value("input", ""))
         << "\" alt=\"input\"></td>";
    for (const std::string& m : methods) {
      const json out = item.value("outputs", json::object()).value(m, json::object());
      const std::string picture = out.value("image", out.value("overlay", ""));  // guided: RGB
      html << "<td><img class=\"map\" src=\"" << html_escape(picture) << "\" alt=\"" << html_escape(m)
           << "\"><span class=\"small\">target " << html_escape(out.value("target", ""))
           << "</span></td>";
    }
    html << "</tr>\n";
  }
  html << "</table>\n";
}

// The metrics table: each measure beside the same measure on random maps.
void metrics_table(std::ostream& html, const json& manifest,
                   const std::vector<std::string>& methods) {
  static const std::pair<const char*, const char*> kPairs[] = {
      {"pointing_game", "pointing game &uarr;"}, {"deletion_auc", "deletion AUC &darr;"},
      {"insertion_auc", "insertion AUC &uarr;"}, {"road_morf", "ROAD MoRF &darr;"},
      {"road_lerf", "ROAD LeRF &uarr;"},         {"average_drop", "average drop &darr;"}};
  html << "<h2>Metrics</h2><p class=\"small\">Each value, then (in brackets) the same measure on "
          "uniformly random maps. The sanity check re-initialises the network from the top down "
          "and correlates the maps with the trained model's (lower is better: the maps depend on "
          "the weights).</p>\n<table><tr><th>method</th><th>images/s</th>";
  for (const auto& [key, label] : kPairs)
    html << "<th>" << label << "</th>";
  html << "<th>sanity: Spearman</th><th>sanity: SSIM</th></tr>\n";
  const json none;
  for (const std::string& m : methods) {
    const json& metrics = manifest.contains("metrics") && manifest.at("metrics").contains(m)
                              ? manifest.at("metrics").at(m)
                              : none;
    html << "<tr><td>" << html_escape(m) << "</td><td>"
         << number(manifest.value("images_per_second", json::object()).value(m, json()), 1) << "</td>";
    for (const auto& [key, label] : kPairs) {
      html << "<td>" << number(metrics.is_object() ? metrics.value(key, json()) : json());
      if (metrics.is_object() && metrics.contains(std::string("random_") + key))
        html << " (" << number(metrics.at("random_" + std::string(key))) << ")";
      html << "</td>";
    }
    const bool flagged = metrics.is_object() && metrics.value("sanity_flag", false);
    for (const char* key : {"sanity_spearman", "sanity_ssim"})
      html << "<td" << (flagged ? " class=\"flag\"" : "") << ">"
           << number(metrics.is_object() ? metrics.value(key, json()) : json()) << "</td>";
    html << "</tr>\n";
  }
  html << "</table>\n";
}

// Activation grids (per image and layer) and the first convolution's filters, when written.
void figures(std::ostream& html, const json& manifest) {
  if (manifest.contains("filters"))
    html << "<h2>First convolution</h2><img src=\""
         << html_escape(manifest.at("filters").value("image", "")) << "\" alt=\"filters\">\n";
  bool any = false;
  for (const json& item : manifest.at("images")) {
    if (!item.contains("activations")) continue;
    if (!any) html << "<h2>Activations</h2>\n";
    any = true;
    html << "<p>" << html_escape(fs::path(item.value("file", "")).filename().string()) << "</p>\n";
    for (const auto& [layer, a] : item.at("activations").items())
      html << "<img src=\"" << html_escape(a.value("grid", "")) << "\" alt=\"" << html_escape(layer)
           << "\"><br>\n";
  }
}

}  // namespace

void write_gallery(const json& manifest, const std::string& out_dir) {
  std::vector<std::string> methods;  // in the order they ran
  if (manifest.contains("methods"))
    for (const json& name : manifest.at("methods"))
      methods.push_back(name.get<std::string>());
  std::ostringstream html;
  html << "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>scenecam explain</title>"
       << "<style>" << kStyle << "</style></head><body>\n<h1>Explanations</h1>\n<p class=\"small\">"
       << "checkpoint " << html_escape(manifest.value("checkpoint", "")) << ", layer "
       << html_escape(manifest.value("layer", "")) << ", target " << html_escape(manifest.value("target", ""))
       << ". <span id=\"status\">images not checked yet</span></p>\n";
  image_rows(html, manifest, methods);
  metrics_table(html, manifest, methods);
  figures(html, manifest);
  html << "<script>window.addEventListener('load',function(){var all=document.images,ok=0;"
          "for(var i=0;i<all.length;i++)if(all[i].complete&&all[i].naturalWidth>0)ok++;"
          "document.getElementById('status').textContent=ok+' of '+all.length+' images loaded';"
          "});</script>\n</body></html>\n";
  write_file_atomic((fs::path(out_dir) / "index.html").string(), html.str());
}

}  // namespace scenecam
