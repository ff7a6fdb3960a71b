package controlapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"

	"github.com/autopathlab/autopathlab/harness"
)

// Packet captures (harness/capture.go) and files of the nodes' virtual
// filesystems (what tcpdump-uw -w wrote).

// CaptureRequest is the body of POST /v1/captures.
type CaptureRequest struct {
	// Node is a host or CVM reference, or a gateway's or filer's name.
	Node string `json:"node"`
	// Interface is "" for every interface of the node.
	Interface  string `json:"interface,omitempty"`
	Snaplen    int    `json:"snaplen,omitempty"`
	MaxPackets int    `json:"max_packets,omitempty"`
	MaxBytes   int64  `json:"max_bytes,omitempty"`
}

// PcapType is the media type of a pcap file.
const PcapType = "application/vnd.tcpdump.pcap"

func (s *Server) startCapture(w http.ResponseWriter, r *http.Request) {
	var req CaptureRequest
	if !readJSON(w, r, &req) {
		return
	}
	v, err := s.lab.StartCapture(req.Node, req.Interface, harness.CaptureOptions{Snaplen: req.Snaplen, MaxPackets: req.MaxPackets, MaxBytes: req.MaxBytes})
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, v)
}

func (s *Server) getCaptures(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.lab.Captures())
}

func (s *Server) getCapture(w http.ResponseWriter, r *http.Request) {
	v, err := s.lab.Capture(r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) stopCapture(w http.ResponseWriter, r *http.Request) {
	v, err := s.lab.StopCapture(r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) removeCapture(w http.ResponseWriter, r *http.Request) {
	if err := s.lab.RemoveCapture(r.PathValue("id")); err != nil {
		writeErr(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) getPcap(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	// Built first, so that an unknown capture is still a JSON 404.
	var buf bytes.Buffer
	if err := s.lab.CapturePcap(id, &buf); err != nil {
		writeErr(w, err)
		return
	}
	w.Header().Set("Content-Type", PcapType)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", "capture-"+id+".pcap"))
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	_, _ = buf.WriteTo(w)
}

// getFile serves a regular file of a host's or CVM's filesystem.
func (s *Server) getFile(open func(ref, name string) (io.ReadCloser, fs.FileInfo, error), param string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("path")
		if name == "" {
			writeError(w, http.StatusBadRequest, "file: the path query parameter is required")
			return
		}
		f, fi, err := open(r.PathValue(param), name)
		if err != nil {
			writeErr(w, err)
			return
		}
		defer f.Close()
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", path.Base(name)))
		w.Header().Set("Content-Length", strconv.FormatInt(fi.Size(), 10))
		_, _ = io.Copy(w, f)
	}
}

// StartCapture is POST /v1/captures.
func (c *Client) StartCapture(ctx context.Context, req CaptureRequest) (v harness.CaptureView, err error) {
	return v, c.do(ctx, "POST", "/v1/captures", nil, req, &v)
}

// Captures is GET /v1/captures.
func (c *Client) Captures(ctx context.Context) (v []harness.CaptureView, err error) {
	return v, c.do(ctx, "GET", "/v1/captures", nil, nil, &v)
}

// Capture is GET /v1/captures/{id}.
func (c *Client) Capture(ctx context.Context, id string) (v harness.CaptureView, err error) {
	return v, c.do(ctx, "GET", capturePath(id, ""), nil, nil, &v)
}

// StopCapture is POST /v1/captures/{id}/stop.
func (c *Client) StopCapture(ctx context.Context, id string) (v harness.CaptureView, err error) {
	return v, c.do(ctx, "POST", capturePath(id, "/stop"), nil, nil, &v)
}

// RemoveCapture is DELETE /v1/captures/{id}.
func (c *Client) RemoveCapture(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", capturePath(id, ""), nil, nil, nil)
}

// CapturePcap is GET /v1/captures/{id}/pcap: it copies the pcap file to w.
func (c *Client) CapturePcap(ctx context.Context, id string, w io.Writer) error {
	return c.download(ctx, capturePath(id, "/pcap"), w)
}

// HostFile is GET /v1/hosts/{host}/files?path=NAME: it copies the file to w.
func (c *Client) HostFile(ctx context.Context, host, name string, w io.Writer) error {
	return c.download(ctx, hostPath(host, "files")+"?"+url.Values{"path": {name}}.Encode(), w)
}

// CVMFile is GET /v1/cvms/{cvm}/files?path=NAME: it copies the file to w.
func (c *Client) CVMFile(ctx context.Context, cvm, name string, w io.Writer) error {
	return c.download(ctx, "/v1/cvms/"+url.PathEscape(cvm)+"/files?"+url.Values{"path": {name}}.Encode(), w)
}

func capturePath(id, part string) string { return "/v1/captures/" + url.PathEscape(id) + part }

func (c *Client) download(ctx context.Context, path string, w io.Writer) error {
	resp, err := c.send(ctx, "GET", path, nil, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, resp.Body)
	return err
}
