package simulations

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

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
	{MarkerPlugin, "foqus-user-plugin"},
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
func Classify(body []byte) (string, error) {
	var c struct {
		FileType        any                `json:"filetype"`
		Type            any                `json:"Type"`
		AspenFile       any                `json:"aspenfile"`
		ConfigVersion   any                `json:"config-version"`
		FileTypeVersion any                `json:"filetype-version"`
		Model           struct{ File any } `json:"model"`
		Application     struct{ Name any } `json:"application"`
	}
	if firstByte(body) != '{' {
		return "", httpx.Errorf(http.StatusBadRequest, "configuration is not a JSON object")
	}
	if err := json.Unmarshal(body, &c); err != nil {
		return "", httpx.Errorf(http.StatusBadRequest, "configuration is not a JSON object: %v", err)
	}
	model := func(file any) (string, error) {
		f := strings.ToLower(str(file))
		switch {
		case strings.HasSuffix(f, ".acmf"):
			return MarkerACM, nil
		case strings.HasSuffix(f, ".bkp"):
			return MarkerAspenPlus, nil
		}
		return "", httpx.Errorf(http.StatusBadRequest, "SimSinter configuration: model file %q is neither .acmf nor .bkp", str(file))
	}
	switch {
	case str(c.FileType) == "FOQUS_Session" || str(c.Type) == "FOQUS_Session":
		return MarkerFOQUS, nil
	case str(c.FileTypeVersion) == "0.3":
		if strings.EqualFold(str(c.Application.Name), "foqus-user-plugin") {
			if strings.HasSuffix(strings.ToLower(str(c.Model.File)), ".py") {
				return MarkerPlugin, nil
			}
			return "", httpx.Errorf(http.StatusBadRequest, "plugin configuration: model file %q is not .py", str(c.Model.File))
		}
		return model(c.Model.File)
	case str(c.ConfigVersion) == "0.2" || str(c.FileTypeVersion) == "0.2":
		return model(c.Model.File)
	case str(c.FileType) == "sinterconfig": // 0.1
		return model(c.AspenFile)
	}
	return "", httpx.Errorf(http.StatusBadRequest, "configuration is neither a SimSinter configuration (0.1, 0.2, 0.3) nor a FOQUS session")
}

// str renders a JSON string or number; versions are written either way.
func str(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return fmt.Sprint(v)
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
