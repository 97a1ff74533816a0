package account

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// JSONVersion is the version of the {"herald_profiles": N} document that
// ExportJSON writes and ImportJSON reads.
const JSONVersion = 1

// maxJSONSize bounds the documents ImportJSON reads.
const maxJSONSize = 8 << 20

type jsonDoc struct {
	Version  int       `json:"herald_profiles"`
	Profiles []Profile `json:"profiles"`
}

// ExportJSON writes the profiles as {"herald_profiles": 1, "profiles": [...]}
// indented by two spaces, without their ID and timestamps.
func ExportJSON(w io.Writer, ps ...Profile) error {
	doc := jsonDoc{Version: JSONVersion, Profiles: make([]Profile, len(ps))}
	for i, p := range ps {
		doc.Profiles[i] = portable(p)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("json export: %w", err)
	}
	return nil
}

// ImportJSON reads an ExportJSON document or a single profile object and
// returns the profiles without ID and timestamps; the caller validates them.
func ImportJSON(r io.Reader) ([]Profile, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxJSONSize+1))
	if err != nil {
		return nil, fmt.Errorf("json import: read: %w", err)
	}
	if len(data) > maxJSONSize {
		return nil, fmt.Errorf("json import: document larger than %d bytes", maxJSONSize)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("json import: not a JSON object: %w", err)
	}
	var ps []Profile
	if raw, ok := probe["herald_profiles"]; ok {
		var version int
		if err := json.Unmarshal(raw, &version); err != nil {
			return nil, fmt.Errorf("json import: herald_profiles %s is not a version number", bytes.TrimSpace(raw))
		}
		if version != JSONVersion {
			return nil, fmt.Errorf("json import: herald_profiles version %d is not supported (this Herald reads version %d)", version, JSONVersion)
		}
		var doc jsonDoc
		if err := json.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("json import: %w", err)
		}
		if doc.Profiles == nil {
			return nil, errors.New(`json import: no "profiles" list`)
		}
		ps = doc.Profiles
	} else {
		if _, ok := probe["profiles"]; ok {
			return nil, errors.New(`json import: "profiles" without a "herald_profiles" version`)
		}
		var p Profile
		if err := json.Unmarshal(data, &p); err != nil {
			return nil, fmt.Errorf("json import: profile: %w", err)
		}
		ps = []Profile{p}
	}
	for i := range ps {
		ps[i] = portable(ps[i])
	}
	return ps, nil
}

// portable drops what belongs to one store: the ID and the timestamps.
func portable(p Profile) Profile {
	p.ID = ""
	p.Created = time.Time{}
	p.Updated = time.Time{}
	return p
}
