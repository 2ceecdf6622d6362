//! What a CEL expression reads, from its syntax tree: `nodes.<id>`, `nodes["<id>"]`, variables.

use crate::domain::data::Reads;
use cel::common::ast::{Expr, IdedExpr, LiteralValue, operators};

/// Walks the tree, with the names comprehensions bind (`items.all(i, i > 0)`) in scope.
pub(super) fn collect(root: &IdedExpr) -> Reads {
    let mut walker = Walker { locals: Vec::new(), reads: Reads::default() };
    walker.walk(root);
    walker.reads
}

struct Walker {
    locals: Vec<String>,
    reads: Reads,
}

impl Walker {
    fn is_global(&self, name: &str) -> bool {
        !self.locals.iter().any(|l| l == name)
    }

    fn walk(&mut self, e: &IdedExpr) {
        match &e.expr {
            Expr::Ident(name) if self.is_global(name) => match name.as_str() {
                "nodes" => self.reads.dynamic_nodes = true,
                "variables" => {}
                other => self.reads.variable(other),
            },
            Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
            Expr::Select(select) => {
                // `nodes.a.output.b` and `variables.x.y`: the root and the first field say it all.
                match &select.operand.expr {
                    Expr::Ident(root) if root == "nodes" && self.is_global(root) => self.reads.node(&select.field),
                    Expr::Ident(root) if root == "variables" && self.is_global(root) => {
                        self.reads.variable(&select.field);
                    }
                    _ => self.walk(&select.operand),
                }
            }
            Expr::Call(call) => {
                if call.func_name == operators::INDEX
                    && let [target, key] = call.args.as_slice()
                    && matches!(&target.expr, Expr::Ident(root) if root == "nodes" && self.is_global(root))
                    && let Expr::Literal(LiteralValue::String(id)) = &key.expr
                {
                    self.reads.node(id.inner());
                    return;
                }
                if let Some(target) = &call.target {
                    self.walk(target);
                }
                call.args.iter().for_each(|a| self.walk(a));
            }
            Expr::List(list) => list.elements.iter().for_each(|e| self.walk(e)),
            Expr::Map(map) => map.entries.iter().for_each(|entry| self.walk_entry(&entry.expr)),
            Expr::Struct(st) => st.entries.iter().for_each(|entry| self.walk_entry(&entry.expr)),
            Expr::Comprehension(c) => {
                self.walk(&c.iter_range);
                self.walk(&c.accu_init);
                let bound = 1 + usize::from(c.iter_var2.is_some()) + 1;
                self.locals.push(c.iter_var.clone());
                self.locals.extend(c.iter_var2.clone());
                self.locals.push(c.accu_var.clone());
                self.walk(&c.loop_cond);
                self.walk(&c.loop_step);
                self.walk(&c.result);
                self.locals.truncate(self.locals.len() - bound);
            }
        }
    }

    fn walk_entry(&mut self, entry: &cel::common::ast::EntryExpr) {
        match entry {
            cel::common::ast::EntryExpr::StructField(f) => self.walk(&f.value),
            cel::common::ast::EntryExpr::MapEntry(m) => {
                self.walk(&m.key);
                self.walk(&m.value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::expr::Expr;

    fn reads(source: &str) -> crate::domain::data::Reads {
        Expr::compile(source).unwrap().reads()
    }

    #[test]
    fn node_outputs_are_read_by_field_or_literal_index() {
        let r = reads(r#"nodes.a.output.score > 0.5 && nodes["b-1"].output.ok && has(nodes.c.output)"#);
        assert_eq!(r.nodes, vec!["a", "b-1", "c"]);
        assert!(!r.dynamic_nodes);
    }

    #[test]
    fn variables_are_read_plain_or_through_the_variables_map() {
        let r = reads("tier == 'gold' && has(variables.email) && size(items) > 0");
        assert_eq!(r.variables, vec!["tier", "email", "items"]);
    }

    #[test]
    fn comprehension_variables_are_local() {
        let r = reads("items.all(i, i > limit) && items.exists(nodes, nodes > 1)");
        assert_eq!(r.variables, vec!["items", "limit"]);
        assert!(!r.dynamic_nodes, "`nodes` bound by the comprehension is not the node map");
    }

    #[test]
    fn nodes_without_a_literal_id_is_dynamic() {
        assert!(reads("size(nodes) > 1").dynamic_nodes);
        assert!(reads("nodes[key].output == 1").dynamic_nodes);
    }
}
