package simulations

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/foqus-cloud/stack/functions/httpx"
)

// Marker files: the object that makes a folder a simulation and names its
// application (spec §6). A simulation's configuration is stored under it.
const (
	MarkerFOQUS     = "session.foqus"
	MarkerACM       = "acm_sinter.json"
	MarkerAspenPlus = "aspenplus_sinter.json"
	MarkerFakeJob   = "fake-job.json"
	MarkerPlugin    = "foqus-user-plugin.json"
	MetaFile        = "meta.json"
)

// markers in the order a simulation's application is looked up, with the
// Application the original listed for each (R13).
var markers = []struct{ File, Application string }{
	{MarkerFOQUS, "foqus"},
	{MarkerACM, "ACM"},
	{MarkerAspenPlus, "aspenplus"},
	{MarkerFakeJob, "fake-job"},
	{MarkerPlugin, "FOQUS-User-Plugin"},
}

func applicationOf(marker string) string {
	for _, m := range markers {
		if m.File == marker {
			return m.Application
		}
	}
	return ""
}

// markerOf maps an Application of PUT /simulation/{name} (any case) to its marker.
func markerOf(app string) (string, bool) {
	switch strings.ToLower(app) {
	case "foqus":
		return MarkerFOQUS, true
	case "acm":
		return MarkerACM, true
	case "aspenplus":
		return MarkerAspenPlus, true
	case "fake-job":
		return MarkerFakeJob, true
	case "foqus-user-plugin":
		return MarkerPlugin, true
	}
	return "", false
}

// MaxMetaBody is the largest PUT /simulation/{name} body: a small JSON object.
const MaxMetaBody = 64 << 10

// ParseSimulation parses a PUT /simulation/{name} body,
// {"Application":..,"StagedInputs":[],"Name":..}, and returns the marker of
// its application. Refusals are *httpx.Error.
func ParseSimulation(body []byte) (marker string, err error) {
	if len(body) > MaxMetaBody {
		return "", httpx.Errorf(http.StatusRequestEntityTooLarge, "body of %d bytes is over the limit of %d", len(body), MaxMetaBody)
	}
	var meta struct {
		Application any `json:"Application"`
	}
	if err := json.Unmarshal(body, &meta); err != nil || firstByte(body) != '{' {
		return "", httpx.Errorf(http.StatusBadRequest, "body is not a JSON object")
	}
	app, _ := meta.Application.(string)
	marker, ok := markerOf(app)
	if !ok {
		return "", httpx.Errorf(http.StatusBadRequest, "Unsupported application %v", meta.Application)
	}
	return marker, nil
}

// Classify inspects an uploaded configuration (R17) and returns the marker
// it is stored under: a SimSinter configuration of version 0.1, 0.2 or 0.3
// (ACM for an .acmf model, Aspen Plus for .bkp, a FOQUS user plugin for .py)
// or a FOQUS session. Refusals are *httpx.Error (400).
//
// It reads only the keys it needs, with gjson rather than encoding/json:
// keys match exactly (encoding/json would take a sinter config's top-level
// string "Application" for its "application" object and refuse it), and the
// rest of the document is not decoded, so a FOQUS session holding NaN or
// Infinity (Python's json writes them; encoding/json refuses them) is
// classified and stored byte for byte.
func Classify(body []byte) (string, error) {
	if firstByte(body) != '{' {
		return "", httpx.Errorf(http.StatusBadRequest, "configuration is not a JSON object")
	}
	doc := gjson.ParseBytes(body)
	if !doc.IsObject() {
		return "", httpx.Errorf(http.StatusBadRequest, "configuration is not a JSON object")
	}
	get := func(path string) string { return str(doc.Get(path)) }
	model := func(file string) (string, error) {
		f := strings.ToLower(file)
		switch {
		case strings.HasSuffix(f, ".acmf"):
			return MarkerACM, nil
		case strings.HasSuffix(f, ".bkp"):
			return MarkerAspenPlus, nil
		}
		return "", httpx.Errorf(http.StatusBadRequest, "SimSinter configuration: model file %q is neither .acmf nor .bkp", file)
	}
	switch {
	case get("filetype") == "FOQUS_Session" || get("Type") == "FOQUS_Session":
		return MarkerFOQUS, nil
	case get("filetype-version") == "0.3":
		if strings.EqualFold(get("application.name"), "foqus-user-plugin") {
			if file := get("model.file"); !strings.HasSuffix(strings.ToLower(file), ".py") {
				return "", httpx.Errorf(http.StatusBadRequest, "plugin configuration: model file %q is not .py", file)
			}
			return MarkerPlugin, nil
		}
		return model(get("model.file"))
	case get("config-version") == "0.2" || get("filetype-version") == "0.2":
		return model(get("model.file"))
	case get("filetype") == "sinterconfig": // 0.1 and the 0.2 files that name "aspenfile"
		return model(get("aspenfile"))
	}
	return "", httpx.Errorf(http.StatusBadRequest, "configuration is neither a SimSinter configuration (0.1, 0.2, 0.3) nor a FOQUS session")
}

// str renders a JSON string or number (versions are written either way);
// anything else, or a key that is not there, is "".
func str(r gjson.Result) string {
	switch r.Type {
	case gjson.String:
		return r.Str
	case gjson.Number:
		return r.Raw
	}
	return ""
}

func firstByte(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c
	}
	return 0
}
