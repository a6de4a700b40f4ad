package httpapi

import (
	"encoding/json"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

type obj = map[string]any

// schemas are the OpenAPI components the routes refer to by name.
func schemas() obj {
	str := obj{"type": "string"}
	num := obj{"type": "integer"}
	ts := obj{"type": "string", "format": "date-time"}
	ref := func(n string) obj { return obj{"$ref": "#/components/schemas/" + n} }
	props := func(required []string, p obj) obj {
		o := obj{"type": "object", "properties": p}
		if len(required) > 0 {
			o["required"] = required
		}
		return o
	}
	return obj{
		"User": props([]string{"id", "name", "email", "bio", "created_at", "updated_at", "version"},
			obj{"id": num, "name": str, "email": obj{"type": "string", "format": "email"}, "bio": str, "created_at": ts, "updated_at": ts,
				"version": obj{"type": "integer", "format": "int64", "minimum": 1,
					"description": "1 on creation, one more with each update, in the order the database commits them"}}),
		"NewUser": props([]string{"name", "email"},
			obj{"name": obj{"type": "string", "minLength": 1, "maxLength": 100}, "email": obj{"type": "string", "format": "email", "maxLength": 254}, "bio": obj{"type": "string", "maxLength": 2000}}),
		"UserUpdate":    props(nil, obj{"name": str, "email": str, "bio": str}),
		"Profile":       props([]string{"user_id", "name", "bio", "member_since", "updated_at"}, obj{"user_id": num, "name": str, "bio": str, "member_since": ts, "updated_at": ts}),
		"ProfileUpdate": props(nil, obj{"name": str, "bio": str}),
		"Page":          props([]string{"users", "total", "page", "size"}, obj{"users": obj{"type": "array", "items": ref("User")}, "total": num, "page": num, "size": num}),
		"Dashboard": props([]string{"total_users", "signups_last_30_days", "newest_users"}, obj{
			"total_users": num, "new_users_last_7_days": num, "generated_at": ts,
			"signups_last_30_days": obj{"type": "array", "items": props(nil, obj{"day": obj{"type": "string", "format": "date"}, "count": num})},
			"newest_users":         obj{"type": "array", "items": ref("User")}}),
		"CacheHealth": props([]string{"status"}, obj{"status": obj{"type": "string", "enum": []string{"healthy", "unhealthy", "disabled"}},
			"mode": str, "latency_ms": obj{"type": "number"}, "breaker": str, "error": str}),
		"ClearRequest": props(nil, obj{"pattern": obj{"type": "string", "description": "Redis glob within the namespace; default *"}}),
		"Deleted":      props([]string{"deleted"}, obj{"deleted": num}),
		"Message":      props([]string{"message"}, obj{"message": str}),
		"Status":       props([]string{"status"}, obj{"status": str}),
		"Object":       obj{"type": "object"},
		"Error":        props([]string{"detail"}, obj{"detail": obj{"description": "a message, or a list of {field, message}"}}),
	}
}

// openAPI renders the OpenAPI 3 document of routes.
func openAPI(routes []route, version string) []byte {
	paths := obj{}
	for _, rt := range routes {
		item, _ := paths[rt.path].(obj)
		if item == nil {
			item = obj{}
			paths[rt.path] = item
		}
		op := obj{
			"summary":     rt.summary,
			"tags":        []string{rt.tag},
			"operationId": operationID(rt),
		}
		var params []obj
		if strings.Contains(rt.path, "{user_id}") {
			params = append(params, obj{"name": "user_id", "in": "path", "required": true,
				"schema": obj{"type": "integer", "minimum": 1}})
		}
		for _, q := range rt.query {
			params = append(params, obj{"name": q.name, "in": "query", "description": q.description,
				"schema": obj{"type": "integer", "default": q.def}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if rt.body != "" {
			op["requestBody"] = obj{"required": rt.method != "POST" || rt.body != "ClearRequest",
				"content": obj{"application/json": obj{"schema": obj{"$ref": "#/components/schemas/" + rt.body}}}}
		}
		responses := obj{}
		for code, schema := range rt.responses {
			resp := obj{"description": http.StatusText(code)}
			if schema != "" {
				resp["content"] = obj{"application/json": obj{"schema": obj{"$ref": "#/components/schemas/" + schema}}}
			}
			responses[strconv.Itoa(code)] = resp
		}
		op["responses"] = responses
		if rt.admin {
			op["security"] = []obj{{"bearer": []string{}}}
		}
		item[strings.ToLower(rt.method)] = op
	}
	doc := obj{
		"openapi": "3.0.3",
		"info": obj{"title": "larder reference service", "version": version,
			"description": "A users service in Go behind larder: cache-aside reads, versioned write-through, tag invalidation."},
		"paths": paths,
		"components": obj{
			"schemas":         schemas(),
			"securitySchemes": obj{"bearer": obj{"type": "http", "scheme": "bearer", "description": "ADMIN_TOKEN"}},
		},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic("httpapi: OpenAPI document does not encode: " + err.Error()) // a bug in the literals above
	}
	return b
}

func operationID(rt route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(rt.method))
	for _, part := range strings.FieldsFunc(rt.path, func(r rune) bool { return r == '/' || r == '{' || r == '}' || r == '.' }) {
		b.WriteString("_")
		b.WriteString(part)
	}
	return b.String()
}

func (a *API) openAPIDoc(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(a.doc)
}

var docsTemplate = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>larder reference service — API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4em;text-align:left}
code{background:#f4f4f4;padding:0 .2em}.m{font-weight:bold;font-family:monospace}</style></head>
<body><h1>larder reference service</h1>
<p>The machine-readable document is <a href="/openapi.json">/openapi.json</a> (OpenAPI 3). Admin endpoints need
<code>Authorization: Bearer $ADMIN_TOKEN</code>. Errors are <code>{"detail": …}</code>.</p>
<table><tr><th>method</th><th>path</th><th>what</th><th>responses</th></tr>
{{range .}}<tr><td class="m">{{.Method}}</td><td><code>{{.Path}}</code>{{if .Admin}} 🔒{{end}}</td><td>{{.Summary}}</td><td>{{.Codes}}</td></tr>
{{end}}</table></body></html>`))

func (a *API) docsPage(w http.ResponseWriter, r *http.Request) {
	type row struct {
		Method, Path, Summary, Codes string
		Admin                        bool
	}
	var rows []row
	for _, rt := range a.rts {
		codes := make([]int, 0, len(rt.responses))
		for c := range rt.responses {
			codes = append(codes, c)
		}
		sort.Ints(codes)
		s := make([]string, len(codes))
		for i, c := range codes {
			s[i] = strconv.Itoa(c)
		}
		rows = append(rows, row{rt.method, rt.path, rt.summary, strings.Join(s, " "), rt.admin})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := docsTemplate.Execute(w, rows); err != nil {
		a.log.Warn("docs page", "err", err)
	}
}
