//! The workflow as a graph of node indices: successors, in-degrees, Start nodes and a topological
//! order (Kahn's algorithm with a stable queue, so runs and error messages are deterministic).

use crate::domain::ids::NodeId;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Node id to its position in `workflow.nodes`. Looked up for every event a run records, so it
/// hashes with foldhash (seeded per process), cheaper than SipHash on short keys.
pub type NodeIndex = HashMap<NodeId, usize, foldhash::quality::RandomState>;

/// Adjacency of a workflow whose edges all join existing nodes.
#[derive(Debug)]
pub struct Graph {
    /// Node id to its position in `workflow.nodes`.
    pub index: Arc<NodeIndex>,
    /// Successors of each node, one entry per edge, in edge order.
    pub successors: Vec<Vec<usize>>,
    /// Number of incoming edges of each node.
    pub in_degree: Vec<u32>,
}

impl Graph {
    /// Builds the graph of `n` nodes from `(from, to)` index pairs.
    #[must_use]
    pub fn new(index: Arc<NodeIndex>, n: usize, edges: &[(usize, usize)]) -> Self {
        let mut successors = vec![Vec::new(); n];
        let mut in_degree = vec![0u32; n];
        for &(from, to) in edges {
            successors[from].push(to);
            in_degree[to] += 1;
        }
        Self { index, successors, in_degree }
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.successors.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.successors.is_empty()
    }

    /// A topological order, or the node indices of one cycle (first node repeated at the end).
    ///
    /// # Errors
    /// The cycle when the graph has one.
    pub fn topological_order(&self) -> Result<Vec<usize>, Vec<usize>> {
        let mut in_degree = self.in_degree.clone();
        let mut queue: VecDeque<usize> = (0..self.len()).filter(|&i| in_degree[i] == 0).collect();
        let mut order = Vec::with_capacity(self.len());
        while let Some(i) = queue.pop_front() {
            order.push(i);
            for &s in &self.successors[i] {
                in_degree[s] -= 1;
                if in_degree[s] == 0 {
                    queue.push_back(s);
                }
            }
        }
        if order.len() == self.len() {
            return Ok(order);
        }
        let on_cycle: Vec<bool> = in_degree.iter().map(|&d| d > 0).collect();
        Err(self.find_cycle(&on_cycle))
    }

    /// Every node left over by Kahn's algorithm still has a leftover predecessor, so walking
    /// predecessors from one must revisit a node: the nodes between the two visits form a cycle.
    fn find_cycle(&self, leftover: &[bool]) -> Vec<usize> {
        let mut predecessor = vec![usize::MAX; self.len()];
        for (from, succ) in self.successors.iter().enumerate().filter(|&(i, _)| leftover[i]) {
            for &to in succ.iter().filter(|&&t| leftover[t]) {
                if predecessor[to] == usize::MAX {
                    predecessor[to] = from;
                }
            }
        }
        let Some(start) = leftover.iter().position(|&l| l) else {
            return Vec::new();
        };
        let mut seen_at: HashMap<usize, usize> = HashMap::new();
        let mut walk = Vec::new();
        let mut current = start;
        while let std::collections::hash_map::Entry::Vacant(e) = seen_at.entry(current) {
            e.insert(walk.len());
            walk.push(current);
            current = predecessor[current];
        }
        let mut cycle = walk[seen_at[&current]..].to_vec();
        cycle.reverse();
        // Start at the node written first, so the message is the same whatever the walk.
        let first = (0..cycle.len()).min_by_key(|&i| cycle[i]).unwrap_or(0);
        cycle.rotate_left(first);
        cycle.push(cycle[0]);
        cycle
    }

    /// Which nodes can be reached from the given roots.
    #[must_use]
    pub fn reachable_from(&self, roots: &[usize]) -> Vec<bool> {
        let mut seen = vec![false; self.len()];
        let mut stack: Vec<usize> = roots.to_vec();
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            stack.extend(self.successors[i].iter().copied().filter(|&s| !seen[s]));
        }
        seen
    }

    /// For each `(from, to)` pair, whether a path of one or more edges leads from `from` to `to`.
    /// `topo` is a topological order. Sources are taken 64 at a time, each batch one pass over
    /// the graph with a bit per source, so a large workflow with a reference in every node costs
    /// `O((nodes + edges) * sources / 64)` and `O(nodes)` memory.
    #[must_use]
    pub fn reaches(&self, topo: &[usize], pairs: &[(usize, usize)]) -> Vec<bool> {
        let mut sources: Vec<usize> = pairs.iter().map(|&(from, _)| from).collect();
        sources.sort_unstable();
        sources.dedup();
        let mut answers = vec![false; pairs.len()];
        let mut reach = vec![0u64; self.len()];
        for batch in sources.chunks(64) {
            reach.iter_mut().for_each(|r| *r = 0);
            for (bit, &source) in batch.iter().enumerate() {
                reach[source] |= 1u64 << bit;
            }
            for &i in topo {
                let from_here = reach[i];
                if from_here != 0 {
                    for &s in &self.successors[i] {
                        reach[s] |= from_here;
                    }
                }
            }
            for (answer, &(from, to)) in answers.iter_mut().zip(pairs) {
                if let Ok(bit) = batch.binary_search(&from) {
                    // A node's own bit is set at the start; in a DAG no path leads back to it.
                    *answer = from != to && reach[to] & (1u64 << bit) != 0;
                }
            }
        }
        answers
    }

    /// Whether `to` is a direct successor of `from`.
    #[must_use]
    pub fn has_edge(&self, from: usize, to: usize) -> bool {
        self.successors[from].contains(&to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(n: usize, edges: &[(usize, usize)]) -> Graph {
        let index = (0..n).map(|i| (NodeId::new(format!("n{i}")), i)).collect();
        Graph::new(Arc::new(index), n, edges)
    }

    #[test]
    fn diamond_sorts_parents_before_children() {
        let order = graph(4, &[(0, 1), (0, 2), (1, 3), (2, 3)]).topological_order().unwrap();
        assert_eq!(order, vec![0, 1, 2, 3]);
    }

    #[test]
    fn cycle_through_three_nodes_is_reported_with_its_nodes() {
        let cycle = graph(4, &[(0, 1), (1, 2), (2, 3), (3, 1)]).topological_order().unwrap_err();
        assert_eq!(cycle, vec![1, 2, 3, 1]);
    }

    #[test]
    fn self_loop_is_a_cycle() {
        assert_eq!(graph(2, &[(0, 1), (1, 1)]).topological_order().unwrap_err(), vec![1, 1]);
    }

    #[test]
    fn reaches_follows_paths_not_siblings() {
        // 0 -> 1 -> 3, 0 -> 2 -> 3
        let g = graph(4, &[(0, 1), (0, 2), (1, 3), (2, 3)]);
        let topo = g.topological_order().unwrap();
        let answers = g.reaches(&topo, &[(0, 3), (1, 3), (1, 2), (2, 1), (3, 0), (1, 1)]);
        assert_eq!(answers, vec![true, true, false, false, false, false]);
    }

    #[test]
    fn reaches_handles_more_sources_than_one_batch() {
        let n = 200;
        let edges: Vec<(usize, usize)> = (0..n - 1).map(|i| (i, i + 1)).collect();
        let g = graph(n, &edges);
        let topo = g.topological_order().unwrap();
        let pairs: Vec<(usize, usize)> = (0..n).map(|i| (i, n - 1)).chain((0..n).map(|i| (n - 1, i))).collect();
        let answers = g.reaches(&topo, &pairs);
        assert!(answers[..n - 1].iter().all(|&a| a));
        assert!(answers[n - 1..].iter().all(|&a| !a));
    }

    #[test]
    fn reachability_follows_edges_only_forward() {
        let seen = graph(4, &[(0, 1), (2, 3)]).reachable_from(&[0]);
        assert_eq!(seen, vec![true, true, false, false]);
    }
}
