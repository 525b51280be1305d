/**
 * @file The `.nn` parser: a Chevrotain 11 `CstParser` with error recovery and full location
 * tracking, one rule per production of docs/language.md (the production is written above each
 * rule). It builds a concrete syntax tree; grammar/to-ast.ts turns that into the AST. The CST
 * types in grammar/cst.d.ts are generated from this grammar by grammar/gen-cst-dts.ts. Bodies are
 * parsed loosely as `(stmt | expr | ";")*` so that an expression in the middle of a body gets a
 * precise diagnostic from the AST builder rather than a cascade of parse errors. One parser
 * instance is shared (construction runs Chevrotain's grammar analysis); `insertedErrors` records
 * the errors that recovery answered by inserting a virtual token, so their diagnostics can point
 * at the place where the token is missing.
 */
import {
  type CstNode,
  CstParser,
  EOF,
  type IParserErrorMessageProvider,
  type IRecognitionException,
  type IToken,
  type ParserMethod,
  type TokenType,
  tokenMatcher,
} from "chevrotain";
import * as t from "./tokens.js";

/**
 * Messages are written later, from the exception, its token and the rule stack (grammar/index.ts);
 * here we only keep what Chevrotain would otherwise forget: the expected token type's name.
 */
const messageProvider: IParserErrorMessageProvider = {
  buildMismatchTokenMessage: ({ expected }) => expected.name,
  buildNotAllInputParsedMessage: () => "",
  buildNoViableAltMessage: () => "",
  buildEarlyExitMessage: () => "",
};

/**
 * How deep rules may nest (each bracket, call, prefix operator or `if` adds one to a dozen):
 * deeper input would overflow the JavaScript stack here or in the phases that walk the tree.
 * An `if` is checked against half of it: an `else if` chain nests one costly rule per link.
 */
const maxRuleDepth = 800;

/** Thrown where the input nests deeper than maxRuleDepth; `token` is where it went too deep. */
export class NestingTooDeep extends Error {
  constructor(readonly token: IToken) {
    super("nested too deeply");
  }
}

export class NnParser extends CstParser {
  /** Mismatch errors that recovery repaired by inserting the expected token. */
  insertedErrors = new WeakSet<IRecognitionException>();

  /**
   * `validate` runs Chevrotain's grammar checks (ambiguity, left recursion...) during analysis.
   * They only ever report mistakes in this file, and cost about a tenth of a second on every
   * start, so the shared parser skips them and test/grammar/validate.test.ts runs them.
   */
  constructor(opts: { readonly validate?: boolean } = {}) {
    super(t.allTokens as TokenType[], {
      recoveryEnabled: true,
      nodeLocationTracking: "full",
      maxLookahead: 3,
      errorMessageProvider: messageProvider,
      skipValidations: opts.validate !== true,
    });
    this.performSelfAnalysis();
  }

  protected override getTokenToInsert(tokType: TokenType): IToken {
    const errors = this.errors;
    const last = errors[errors.length - 1];
    if (last) this.insertedErrors.add(last);
    return super.getTokenToInsert(tokType);
  }

  /**
   * Chevrotain's re-sync point after an error: the first token that can follow some rule on the
   * stack. Ours is the same, except that a keyword used as a name (`loss = ...`, `optimizer:`)
   * is not taken for the keyword, so an error in a train section does not re-sync to a bogus
   * `loss` or `optimizer` declaration.
   */
  findReSyncTokenType(): TokenType {
    const follows = (this as unknown as { flattenFollowSet(): TokenType[] }).flattenFollowSet();
    for (let k = 1; ; k++) {
      const tok = this.LA(k);
      if (tok.tokenType === EOF) return EOF;
      const next = this.LA(k + 1).tokenType;
      const usedAsName = keywordSet.has(tok.tokenType) && (next === t.Equals || next === t.Colon);
      const match = follows.find(
        (f) => tokenMatcher(tok, f) && !(usedAsName && f === tok.tokenType),
      );
      if (match) return match;
    }
  }

  /** Stops the parse (NestingTooDeep) where rules nest deeper than `limit`. */
  private checkDepth(limit: number): void {
    this.ACTION(() => {
      if ((this as unknown as { RULE_STACK_IDX: number }).RULE_STACK_IDX > limit)
        throw new NestingTooDeep(this.LA(1));
    });
  }

  // module := item* EOF
  module = this.RULE("module", () => {
    this.MANY(() => this.SUBRULE(this.item));
    this.CONSUME(EOF);
  });

  // item := import | model | block | loss | optimizer | train
  item = this.RULE("item", () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.importDecl) },
      { ALT: () => this.SUBRULE(this.modelDecl) },
      { ALT: () => this.SUBRULE(this.blockDecl) },
      { ALT: () => this.SUBRULE(this.optimizerDecl) },
      { ALT: () => this.SUBRULE(this.trainDecl) },
    ]);
  });

  // import := "import" STRING
  importDecl = this.RULE("importDecl", () => {
    this.CONSUME(t.Import);
    this.CONSUME(t.StringLiteral);
  });

  // model := "model" NAME "(" params? ")" ("->" type)? body
  modelDecl = this.RULE("modelDecl", () => {
    this.CONSUME(t.Model);
    this.CONSUME(t.Identifier);
    this.CONSUME(t.LParen);
    this.OPTION(() => this.SUBRULE(this.paramList));
    this.CONSUME(t.RParen);
    this.OPTION2(() => {
      this.CONSUME(t.Arrow);
      this.SUBRULE(this.type);
    });
    this.SUBRULE(this.body);
  });

  // block := ("block" | "loss") NAME "(" params? ")" ("->" type)? body
  blockDecl = this.RULE("blockDecl", () => {
    this.OR([{ ALT: () => this.CONSUME(t.Block) }, { ALT: () => this.CONSUME(t.Loss) }]);
    this.CONSUME(t.Identifier);
    this.CONSUME(t.LParen);
    this.OPTION(() => this.SUBRULE(this.paramList));
    this.CONSUME(t.RParen);
    this.OPTION2(() => {
      this.CONSUME(t.Arrow);
      this.SUBRULE(this.type);
    });
    this.SUBRULE(this.body);
  });

  // optimizer := "optimizer" NAME "(" params? ")" "{" (stateLine | ";")* update ";"* "}"
  optimizerDecl = this.RULE("optimizerDecl", () => {
    this.CONSUME(t.Optimizer);
    this.CONSUME(t.Identifier);
    this.CONSUME(t.LParen);
    this.OPTION(() => this.SUBRULE(this.paramList));
    this.CONSUME(t.RParen);
    this.CONSUME(t.LBrace);
    this.MANY(() =>
      this.OR([
        { ALT: () => this.SUBRULE(this.stateLine) },
        { ALT: () => this.CONSUME(t.Semicolon) },
      ]),
    );
    this.SUBRULE(this.updateRule);
    this.MANY2(() => this.CONSUME2(t.Semicolon));
    this.CONSUME(t.RBrace);
  });

  // stateLine := "state" stateInit ("," stateInit)*
  stateLine = this.RULE("stateLine", () => {
    this.CONSUME(t.State);
    this.SUBRULE(this.stateInit);
    this.MANY(() => {
      this.CONSUME(t.Comma);
      this.SUBRULE2(this.stateInit);
    });
  });

  // stateInit := NAME "=" expr
  stateInit = this.RULE("stateInit", () => {
    this.CONSUME(t.Identifier);
    this.CONSUME(t.Equals);
    this.SUBRULE(this.expr);
  });

  // update := "update" "(" NAME ("," NAME)* ")" body
  updateRule = this.RULE("updateRule", () => {
    this.CONSUME(t.Update);
    this.CONSUME(t.LParen);
    this.CONSUME(t.Identifier);
    this.MANY(() => {
      this.CONSUME(t.Comma);
      this.CONSUME2(t.Identifier);
    });
    this.CONSUME(t.RParen);
    this.SUBRULE(this.body);
  });

  // train := "train" NAME (":" NAME)? "{" (trainEntry | ";")* "}"
  trainDecl = this.RULE("trainDecl", () => {
    this.CONSUME(t.Train);
    this.CONSUME(t.Identifier);
    this.OPTION(() => {
      this.CONSUME(t.Colon);
      this.CONSUME2(t.Identifier);
    });
    this.CONSUME(t.LBrace);
    this.MANY(() =>
      this.OR([
        { ALT: () => this.SUBRULE(this.trainEntry) },
        { ALT: () => this.CONSUME(t.Semicolon) },
      ]),
    );
    this.CONSUME(t.RBrace);
  });

  // trainEntry := noise | step | setting
  // Decided on one token (`noise` and `step` are never setting keys), so that a malformed
  // setting such as `epochs 10` is parsed as a setting missing its '=' rather than skipped.
  trainEntry = this.RULE("trainEntry", () => {
    this.OR({
      MAX_LOOKAHEAD: 1,
      IGNORE_AMBIGUITIES: true,
      DEF: [
        { ALT: () => this.SUBRULE(this.noiseDecl) },
        { ALT: () => this.SUBRULE(this.stepDecl) },
        { ALT: () => this.SUBRULE(this.setting) },
      ],
    });
  });

  // noise := "noise" NAME ":" tensorType "=" expr
  noiseDecl = this.RULE("noiseDecl", () => {
    this.CONSUME(t.Noise);
    this.CONSUME(t.Identifier);
    this.CONSUME(t.Colon);
    this.SUBRULE(this.tensorType, { ARGS: [true] });
    this.CONSUME(t.Equals);
    this.SUBRULE(this.expr);
  });

  // step := "step" NAME "{" (setting | ";")* "}"
  stepDecl = this.RULE("stepDecl", () => {
    this.CONSUME(t.Step);
    this.CONSUME(t.Identifier);
    this.CONSUME(t.LBrace);
    this.MANY(() =>
      this.OR([
        { ALT: () => this.SUBRULE(this.setting) },
        { ALT: () => this.CONSUME(t.Semicolon) },
      ]),
    );
    this.CONSUME(t.RBrace);
  });

  // setting := NAME "=" expr          (NAME may be a keyword: `loss = ...`, `optimizer = ...`)
  setting = this.RULE("setting", () => {
    this.CONSUME(t.Name);
    this.CONSUME(t.Equals);
    this.SUBRULE(this.expr);
  });

  // params := param ("," param)* ","?
  paramList = this.RULE("paramList", () => {
    this.SUBRULE(this.paramSig);
    this.MANY(() => {
      this.CONSUME(t.Comma);
      this.SUBRULE2(this.paramSig);
    });
    this.OPTION(() => this.CONSUME2(t.Comma));
  });

  // param := NAME (":" type)? ("=" expr)?
  paramSig = this.RULE("paramSig", () => {
    this.CONSUME(t.Identifier);
    this.OPTION(() => {
      this.CONSUME(t.Colon);
      this.SUBRULE(this.type);
    });
    this.OPTION2(() => {
      this.CONSUME(t.Equals);
      this.SUBRULE(this.expr);
    });
  });

  // type := tensorType | NAME
  type = this.RULE("type", () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.tensorType, { ARGS: [true] }) },
      { ALT: () => this.CONSUME(t.Identifier) },
    ]);
  });

  // tensorType := "[" (dim ("," dim)* ","?)? "]" NAME?
  // In a signature any NAME after "]" is the dtype; in a `param`/`state` statement only `int` and
  // `float` are, since a following statement may start with a name.
  tensorType: ParserMethod<[anyDtype: boolean], CstNode> = this.RULE("tensorType", ((
    anyDtype: boolean,
  ) => {
    this.CONSUME(t.LBracket);
    this.OPTION(() => {
      this.SUBRULE(this.dim);
      this.MANY(() => {
        this.CONSUME(t.Comma);
        this.SUBRULE2(this.dim);
      });
      this.OPTION2(() => this.CONSUME2(t.Comma));
    });
    this.CONSUME(t.RBracket);
    this.OPTION3({
      GATE: () => anyDtype || isDtypeWord(this.LA(1)),
      DEF: () => this.CONSUME(t.Identifier),
    });
  }) as () => void); // CstParser types rules as taking no arguments; this one takes one

  // dim := "..." | expr
  dim = this.RULE("dim", () => {
    this.OR([{ ALT: () => this.CONSUME(t.Ellipsis) }, { ALT: () => this.SUBRULE(this.expr) }]);
  });

  // body := "{" (stmt | expr | ";")* "}"      (only the last expression is the body's value)
  body = this.RULE("body", () => {
    this.CONSUME(t.LBrace);
    this.MANY(() =>
      this.OR([
        { ALT: () => this.SUBRULE(this.letStmt) },
        { ALT: () => this.SUBRULE(this.paramStmt) },
        { ALT: () => this.SUBRULE(this.stateStmt) },
        { ALT: () => this.SUBRULE(this.assignStmt) },
        { ALT: () => this.SUBRULE(this.expr) },
        { ALT: () => this.CONSUME(t.Semicolon) },
      ]),
    );
    this.CONSUME(t.RBrace);
  });

  // stmt := "let" NAME "=" expr
  letStmt = this.RULE("letStmt", () => {
    this.CONSUME(t.Let);
    this.CONSUME(t.Name); // a keyword here is reported by the AST builder
    this.CONSUME(t.Equals);
    this.SUBRULE(this.expr);
  });

  // stmt := "param" NAME ":" tensorType ("=" expr)?
  paramStmt = this.RULE("paramStmt", () => {
    this.CONSUME(t.Param);
    this.CONSUME(t.Name); // a keyword here is reported by the AST builder
    this.CONSUME(t.Colon);
    this.SUBRULE(this.tensorType, { ARGS: [false] });
    this.OPTION(() => {
      this.CONSUME(t.Equals);
      this.SUBRULE(this.expr);
    });
  });

  // stmt := "state" NAME ":" tensorType ("=" expr)?
  stateStmt = this.RULE("stateStmt", () => {
    this.CONSUME(t.State);
    this.CONSUME(t.Name); // a keyword here is reported by the AST builder
    this.CONSUME(t.Colon);
    this.SUBRULE(this.tensorType, { ARGS: [false] });
    this.OPTION(() => {
      this.CONSUME(t.Equals);
      this.SUBRULE(this.expr);
    });
  });

  // stmt := NAME "=" expr                     (assignment: state, carries)
  assignStmt = this.RULE("assignStmt", () => {
    this.CONSUME(t.Identifier);
    this.CONSUME(t.Equals);
    this.SUBRULE(this.expr);
  });

  // expr := pipe
  expr = this.RULE("expr", () => {
    this.SUBRULE(this.pipe);
  });

  // pipe := compare ("|>" (call | NAME))*
  pipe = this.RULE("pipe", () => {
    this.SUBRULE(this.compare);
    this.MANY(() => {
      this.CONSUME(t.PipeOp);
      this.OR([{ ALT: () => this.SUBRULE(this.call) }, { ALT: () => this.CONSUME(t.Identifier) }]);
    });
  });

  // compare := additive (("<"|">"|"<="|">="|"=="|"!=") additive)?
  compare = this.RULE("compare", () => {
    this.SUBRULE(this.additive);
    this.OPTION(() => {
      this.CONSUME(t.CompareOp);
      this.SUBRULE2(this.additive);
    });
  });

  // additive := multiplicative (("+"|"-") multiplicative)*
  additive = this.RULE("additive", () => {
    this.SUBRULE(this.multiplicative);
    this.MANY(() => {
      this.CONSUME(t.AddOp);
      this.SUBRULE2(this.multiplicative);
    });
  });

  // multiplicative := unary (("*"|"/"|"@") unary)*
  multiplicative = this.RULE("multiplicative", () => {
    this.SUBRULE(this.unary);
    this.MANY(() => {
      this.CONSUME(t.MulOp);
      this.SUBRULE2(this.unary);
    });
  });

  // unary := ("-" | "not") unary | power
  unary = this.RULE("unary", () => {
    this.checkDepth(maxRuleDepth);
    this.OR([
      {
        ALT: () => {
          this.OR2([{ ALT: () => this.CONSUME(t.Minus) }, { ALT: () => this.CONSUME(t.Not) }]);
          this.SUBRULE(this.unary);
        },
      },
      { ALT: () => this.SUBRULE(this.power) },
    ]);
  });

  // power := atom ("^" unary)?             (right associative)
  power = this.RULE("power", () => {
    this.SUBRULE(this.atom);
    this.OPTION(() => {
      this.CONSUME(t.Caret);
      this.SUBRULE(this.unary);
    });
  });

  // atom := NUMBER | STRING | "true" | "false" | call | NAME | "(" expr ")" | list | record
  //       | search | if | scan
  atom = this.RULE("atom", () => {
    this.OR([
      { ALT: () => this.CONSUME(t.NumberLiteral) },
      { ALT: () => this.CONSUME(t.StringLiteral) },
      { ALT: () => this.CONSUME(t.True) },
      { ALT: () => this.CONSUME(t.False) },
      { ALT: () => this.SUBRULE(this.call) },
      { ALT: () => this.CONSUME(t.Identifier) },
      { ALT: () => this.SUBRULE(this.paren) },
      { ALT: () => this.SUBRULE(this.list) },
      { ALT: () => this.SUBRULE(this.record) },
      { ALT: () => this.SUBRULE(this.searchExpr) },
      { ALT: () => this.SUBRULE(this.ifExpr) },
      { ALT: () => this.SUBRULE(this.scanExpr) },
    ]);
  });

  // call := NAME "(" (arg ("," arg)* ","?)? ")"
  call = this.RULE("call", () => {
    this.CONSUME(t.Identifier);
    this.CONSUME(t.LParen);
    this.OPTION(() => {
      this.SUBRULE(this.arg);
      this.MANY(() => {
        this.CONSUME(t.Comma);
        this.SUBRULE2(this.arg);
      });
      this.OPTION2(() => this.CONSUME2(t.Comma));
    });
    this.CONSUME(t.RParen);
  });

  // arg := (NAME ":")? expr
  arg = this.RULE("arg", () => {
    this.OPTION(() => {
      this.CONSUME(t.Name);
      this.CONSUME(t.Colon);
    });
    this.SUBRULE(this.expr);
  });

  // "(" expr ")"
  paren = this.RULE("paren", () => {
    this.CONSUME(t.LParen);
    this.SUBRULE(this.expr);
    this.CONSUME(t.RParen);
  });

  // list := "[" (expr ("," expr)* ","?)? "]"
  list = this.RULE("list", () => {
    this.CONSUME(t.LBracket);
    this.OPTION(() => {
      this.SUBRULE(this.expr);
      this.MANY(() => {
        this.CONSUME(t.Comma);
        this.SUBRULE2(this.expr);
      });
      this.OPTION2(() => this.CONSUME2(t.Comma));
    });
    this.CONSUME(t.RBracket);
  });

  // record := "{" (field ("," field)* ","?)? "}"
  record = this.RULE("record", () => {
    this.CONSUME(t.LBrace);
    this.OPTION(() => {
      this.SUBRULE(this.field);
      this.MANY(() => {
        this.CONSUME(t.Comma);
        this.SUBRULE2(this.field);
      });
      this.OPTION2(() => this.CONSUME2(t.Comma));
    });
    this.CONSUME(t.RBrace);
  });

  // field := NAME ":" (expr | "loss")     (`early_stop = { metric: loss }` names the metric)
  field = this.RULE("field", () => {
    this.CONSUME(t.Name);
    this.CONSUME(t.Colon);
    this.OR([{ ALT: () => this.CONSUME(t.Loss) }, { ALT: () => this.SUBRULE(this.expr) }]);
  });

  // search := "search" list
  searchExpr = this.RULE("searchExpr", () => {
    this.CONSUME(t.Search);
    this.SUBRULE(this.list);
  });

  // if := "if" expr body ("else" (if | body))?
  ifExpr = this.RULE("ifExpr", () => {
    this.checkDepth(maxRuleDepth / 2);
    this.CONSUME(t.If);
    this.SUBRULE(this.expr);
    this.SUBRULE(this.body);
    this.OPTION(() => {
      this.CONSUME(t.Else);
      this.OR([{ ALT: () => this.SUBRULE(this.ifExpr) }, { ALT: () => this.SUBRULE2(this.body) }]);
    });
  });

  // scan := "scan" NAME "in" expr ("carry" stateInit ("," stateInit)*)? body
  scanExpr = this.RULE("scanExpr", () => {
    this.CONSUME(t.Scan);
    this.CONSUME(t.Identifier);
    this.CONSUME(t.In);
    this.SUBRULE(this.expr);
    this.OPTION(() => {
      this.CONSUME(t.Carry);
      this.SUBRULE(this.stateInit);
      this.MANY(() => {
        this.CONSUME(t.Comma);
        this.SUBRULE2(this.stateInit);
      });
    });
    this.SUBRULE(this.body);
  });
}

const keywordSet = new Set<TokenType>(t.keywords);

function isDtypeWord(tok: IToken): boolean {
  return tok.tokenType === t.Identifier && (tok.image === "int" || tok.image === "float");
}

let shared: NnParser | undefined;

/** The shared parser instance (grammar analysis runs once per process). */
export function nnParser(): NnParser {
  shared ??= new NnParser();
  return shared;
}
