package raftstore

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// errPipelineEnded is returned for an AppendEntries sent on a pipeline
// after a response has ended raft's reader of that pipeline: raft then
// closes the pipeline and replicates with plain RPCs until the follower
// has caught up again.
var errPipelineEnded = errors.New("raft pipeline ended by a failed append")

// pipelineTransport is raft's NetworkTransport with one change: every
// pipeline it opens is a guardedPipeline. Everything else, including the
// optional interfaces raft looks for (WithClose, WithPreVote), is the
// embedded transport's.
type pipelineTransport struct {
	*raft.NetworkTransport
}

// AppendEntriesPipeline opens the transport's pipeline to a follower and
// guards it (see guardedPipeline).
func (t pipelineTransport) AppendEntriesPipeline(id raft.ServerID, target raft.ServerAddress) (raft.AppendPipeline, error) {
	p, err := t.NetworkTransport.AppendEntriesPipeline(id, target)
	if err != nil {
		return nil, err
	}
	return newGuardedPipeline(p), nil
}

// guardedPipeline keeps a pipeline from wedging replication to a follower
// for good (hashicorp/raft#612). raft reads a pipeline's responses until
// one fails (Success=false, a newer term, or an I/O error), then stops
// reading; its sender may still send one more request before it notices.
// NetworkTransport's response reader then blocks handing that response to
// nobody, the sender blocks handing the request to the reader, and the
// pipeline is never closed, while heartbeats keep the follower from
// calling an election.
//
// The guard sits between the two: one goroutine always takes the
// transport's responses and passes them on to raft until it passes one
// that makes raft stop reading; after that it drops them, and every
// AppendEntries is refused at once, which makes raft's sender close the
// pipeline and fall back to plain RPCs.
type guardedPipeline struct {
	inner  raft.AppendPipeline
	out    chan raft.AppendFuture
	ended  atomic.Bool // a response passed on ended raft's reader
	closed chan struct{}
	once   sync.Once
	done   chan struct{} // the forwarding goroutine has returned
}

func newGuardedPipeline(inner raft.AppendPipeline) *guardedPipeline {
	p := &guardedPipeline{
		inner:  inner,
		out:    make(chan raft.AppendFuture),
		closed: make(chan struct{}),
		done:   make(chan struct{}),
	}
	go p.forward()
	return p
}

// endsReader reports whether raft stops reading a pipeline after this
// response (raft's pipelineDecode: a newer term or no success; a response
// that failed to decode carries neither).
func endsReader(f raft.AppendFuture) bool {
	req, resp := f.Request(), f.Response()
	return resp == nil || req == nil || resp.Term > req.Term || !resp.Success
}

func (p *guardedPipeline) forward() {
	defer close(p.done)
	in := p.inner.Consumer()
	for {
		select {
		case f := <-in:
			if p.ended.Load() {
				continue // nobody reads any more; the sender is being refused
			}
			if endsReader(f) {
				p.ended.Store(true)
			}
			select {
			case p.out <- f:
			case <-p.closed:
				return
			}
		case <-p.closed:
			return
		}
	}
}

// AppendEntries sends req on the pipeline, unless a failed response has
// ended it.
func (p *guardedPipeline) AppendEntries(req *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) (raft.AppendFuture, error) {
	if p.ended.Load() {
		return nil, errPipelineEnded
	}
	return p.inner.AppendEntries(req, resp)
}

// Consumer is where raft reads the pipeline's responses.
func (p *guardedPipeline) Consumer() <-chan raft.AppendFuture { return p.out }

// Close stops the forwarding goroutine and closes the transport's
// pipeline.
func (p *guardedPipeline) Close() error {
	p.once.Do(func() { close(p.closed) })
	err := p.inner.Close()
	<-p.done
	return err
}
