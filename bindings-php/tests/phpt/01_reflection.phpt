--TEST--
stomp: reflection (functions, classes, methods, parameter types and defaults, return types, order) and what it implies for named arguments and subclasses
--SKIPIF--
<?php if (!extension_loaded('stomp')) die('skip stomp extension not loaded'); ?>
--FILE--
<?php
require __DIR__ . '/_lib.php';

// Untyped overrides, as code written for PECL has them: compatible only while the parent's
// parameters are untyped (or `?array $headers`) and it declares no return types.
if (true) { // declared at run time, so that a fatal error shows in the transcript
    class UntypedStomp extends Stomp
    {
        public function __construct($broker = null, $username = null, $password = null, $headers = null) {}
        public function __destruct() {}
        public function send($destination, $msg, $headers = null) { return "send $destination"; }
        public function readFrame($class_name = null) { return 'readFrame'; }
        public function getSessionId() { return 'getSessionId'; }
        public function ack($msg, ?array $headers = null) { return 'ack'; }
    }
}
t('subclass with untyped overrides', function () {
    $s = new UntypedStomp();
    return [$s->send('/queue/x', 'body'), $s->readFrame(), $s->getSessionId(), $s->ack('id')];
});

// No parameter has a default the engine knows, so named arguments cannot skip one.
t('named argument skips an optional parameter (function)', fn () => stomp_connect(headers: []));
t('named argument skips an optional parameter (constructor)', fn () => new Stomp(headers: []));

// Everything reflection shows, in PHP's own format (`php --re stomp`).
out('== ReflectionExtension');
out(preg_replace('/extension #\d+/', 'extension #<n>', (string) new ReflectionExtension('stomp')));
?>
--EXPECT--
== subclass with untyped overrides
  return array (
  0 => 'send /queue/x',
  1 => 'readFrame',
  2 => 'getSessionId',
  3 => 'ack',
)
== named argument skips an optional parameter (function)
  throw ArgumentCountError: 'stomp_connect(): Argument #1 ($broker) must be passed explicitly, because the default value is not known' code=0
== named argument skips an optional parameter (constructor)
  throw ArgumentCountError: 'Stomp::__construct(): Argument #1 ($broker) must be passed explicitly, because the default value is not known' code=0
== ReflectionExtension
Extension [ <persistent> extension #<n> Stomp version 2.0.3 ] {

  - INI {
    Entry [ stomp.default_broker <ALL> ]
      Current = 'tcp://localhost:61613'
    }
    Entry [ stomp.default_username <ALL> ]
      Current = ''
    }
    Entry [ stomp.default_password <ALL> ]
      Current = ''
    }
    Entry [ stomp.default_read_timeout_sec <ALL> ]
      Current = '2'
    }
    Entry [ stomp.default_read_timeout_usec <ALL> ]
      Current = '0'
    }
    Entry [ stomp.default_connection_timeout_sec <ALL> ]
      Current = '2'
    }
    Entry [ stomp.default_connection_timeout_usec <ALL> ]
      Current = '0'
    }
  }

  - Functions {
    Function [ <internal:Stomp> function stomp_version ] {

      - Parameters [0] {
      }
    }
    Function [ <internal:Stomp> function stomp_connect ] {

      - Parameters [4] {
        Parameter #0 [ <optional> $broker = <default> ]
        Parameter #1 [ <optional> $username = <default> ]
        Parameter #2 [ <optional> $password = <default> ]
        Parameter #3 [ <optional> ?array $headers = <default> ]
      }
    }
    Function [ <internal:Stomp> function stomp_connect_error ] {

      - Parameters [0] {
      }
    }
    Function [ <internal:Stomp> function stomp_get_session_id ] {

      - Parameters [1] {
        Parameter #0 [ <required> $link ]
      }
    }
    Function [ <internal:Stomp> function stomp_close ] {

      - Parameters [1] {
        Parameter #0 [ <required> $link ]
      }
    }
    Function [ <internal:Stomp> function stomp_send ] {

      - Parameters [4] {
        Parameter #0 [ <required> $link ]
        Parameter #1 [ <required> $destination ]
        Parameter #2 [ <required> $msg ]
        Parameter #3 [ <optional> ?array $headers = <default> ]
      }
    }
    Function [ <internal:Stomp> function stomp_subscribe ] {

      - Parameters [3] {
        Parameter #0 [ <required> $link ]
        Parameter #1 [ <required> $destination ]
        Parameter #2 [ <optional> ?array $headers = <default> ]
      }
    }
    Function [ <internal:Stomp> function stomp_has_frame ] {

      - Parameters [1] {
        Parameter #0 [ <required> $link ]
      }
    }
    Function [ <internal:Stomp> function stomp_read_frame ] {

      - Parameters [2] {
        Parameter #0 [ <required> $link ]
        Parameter #1 [ <optional> $class_name = <default> ]
      }
    }
    Function [ <internal:Stomp> function stomp_unsubscribe ] {

      - Parameters [3] {
        Parameter #0 [ <required> $link ]
        Parameter #1 [ <required> $destination ]
        Parameter #2 [ <optional> ?array $headers = <default> ]
      }
    }
    Function [ <internal:Stomp> function stomp_begin ] {

      - Parameters [3] {
        Parameter #0 [ <required> $link ]
        Parameter #1 [ <required> $transaction_id ]
        Parameter #2 [ <optional> ?array $headers = <default> ]
      }
    }
    Function [ <internal:Stomp> function stomp_commit ] {

      - Parameters [3] {
        Parameter #0 [ <required> $link ]
        Parameter #1 [ <required> $transaction_id ]
        Parameter #2 [ <optional> ?array $headers = <default> ]
      }
    }
    Function [ <internal:Stomp> function stomp_abort ] {

      - Parameters [3] {
        Parameter #0 [ <required> $link ]
        Parameter #1 [ <required> $transaction_id ]
        Parameter #2 [ <optional> ?array $headers = <default> ]
      }
    }
    Function [ <internal:Stomp> function stomp_ack ] {

      - Parameters [3] {
        Parameter #0 [ <required> $link ]
        Parameter #1 [ <required> $msg ]
        Parameter #2 [ <optional> ?array $headers = <default> ]
      }
    }
    Function [ <internal:Stomp> function stomp_nack ] {

      - Parameters [3] {
        Parameter #0 [ <required> $link ]
        Parameter #1 [ <required> $msg ]
        Parameter #2 [ <optional> ?array $headers = <default> ]
      }
    }
    Function [ <internal:Stomp> function stomp_error ] {

      - Parameters [1] {
        Parameter #0 [ <required> $link ]
      }
    }
    Function [ <internal:Stomp> function stomp_set_read_timeout ] {

      - Parameters [3] {
        Parameter #0 [ <required> $link ]
        Parameter #1 [ <required> $seconds ]
        Parameter #2 [ <optional> $microseconds = <default> ]
      }
    }
    Function [ <internal:Stomp> function stomp_get_read_timeout ] {

      - Parameters [1] {
        Parameter #0 [ <required> $link ]
      }
    }
  }

  - Classes [3] {
    Class [ <internal:Stomp> class Stomp ] {

      - Constants [0] {
      }

      - Static properties [0] {
      }

      - Static methods [0] {
      }

      - Properties [0] {
      }

      - Methods [16] {
        Method [ <internal:Stomp, ctor> public method __construct ] {

          - Parameters [4] {
            Parameter #0 [ <optional> $broker = <default> ]
            Parameter #1 [ <optional> $username = <default> ]
            Parameter #2 [ <optional> $password = <default> ]
            Parameter #3 [ <optional> ?array $headers = <default> ]
          }
        }

        Method [ <internal:Stomp> public method getSessionId ] {

          - Parameters [0] {
          }
        }

        Method [ <internal:Stomp> public method __destruct ] {

          - Parameters [0] {
          }
        }

        Method [ <internal:Stomp> public method send ] {

          - Parameters [3] {
            Parameter #0 [ <required> $destination ]
            Parameter #1 [ <required> $msg ]
            Parameter #2 [ <optional> ?array $headers = <default> ]
          }
        }

        Method [ <internal:Stomp> public method subscribe ] {

          - Parameters [2] {
            Parameter #0 [ <required> $destination ]
            Parameter #1 [ <optional> ?array $headers = <default> ]
          }
        }

        Method [ <internal:Stomp> public method hasFrame ] {

          - Parameters [0] {
          }
        }

        Method [ <internal:Stomp> public method readFrame ] {

          - Parameters [1] {
            Parameter #0 [ <optional> $class_name = <default> ]
          }
        }

        Method [ <internal:Stomp> public method unsubscribe ] {

          - Parameters [2] {
            Parameter #0 [ <required> $destination ]
            Parameter #1 [ <optional> ?array $headers = <default> ]
          }
        }

        Method [ <internal:Stomp> public method begin ] {

          - Parameters [2] {
            Parameter #0 [ <required> $transaction_id ]
            Parameter #1 [ <optional> ?array $headers = <default> ]
          }
        }

        Method [ <internal:Stomp> public method commit ] {

          - Parameters [2] {
            Parameter #0 [ <required> $transaction_id ]
            Parameter #1 [ <optional> ?array $headers = <default> ]
          }
        }

        Method [ <internal:Stomp> public method abort ] {

          - Parameters [2] {
            Parameter #0 [ <required> $transaction_id ]
            Parameter #1 [ <optional> ?array $headers = <default> ]
          }
        }

        Method [ <internal:Stomp> public method ack ] {

          - Parameters [2] {
            Parameter #0 [ <required> $msg ]
            Parameter #1 [ <optional> ?array $headers = <default> ]
          }
        }

        Method [ <internal:Stomp> public method nack ] {

          - Parameters [2] {
            Parameter #0 [ <required> $msg ]
            Parameter #1 [ <optional> ?array $headers = <default> ]
          }
        }

        Method [ <internal:Stomp> public method error ] {

          - Parameters [0] {
          }
        }

        Method [ <internal:Stomp> public method setReadTimeout ] {

          - Parameters [2] {
            Parameter #0 [ <required> $seconds ]
            Parameter #1 [ <optional> $microseconds = <default> ]
          }
        }

        Method [ <internal:Stomp> public method getReadTimeout ] {

          - Parameters [0] {
          }
        }
      }
    }

    Class [ <internal:Stomp> class StompFrame ] {

      - Constants [0] {
      }

      - Static properties [0] {
      }

      - Static methods [0] {
      }

      - Properties [3] {
        Property [ public $command = NULL ]
        Property [ public $headers = NULL ]
        Property [ public $body = NULL ]
      }

      - Methods [1] {
        Method [ <internal:Stomp, ctor> public method __construct ] {

          - Parameters [3] {
            Parameter #0 [ <optional> $command = <default> ]
            Parameter #1 [ <optional> ?array $headers = <default> ]
            Parameter #2 [ <optional> $body = <default> ]
          }
        }
      }
    }

    Class [ <internal:Stomp> class StompException extends Exception implements Throwable, Stringable ] {

      - Constants [0] {
      }

      - Static properties [0] {
      }

      - Static methods [0] {
      }

      - Properties [5] {
        Property [ protected $message = '' ]
        Property [ protected $code = 0 ]
        Property [ protected string $file = '' ]
        Property [ protected int $line = 0 ]
        Property [ private $details = NULL ]
      }

      - Methods [11] {
        Method [ <internal:Stomp> public method getDetails ] {

          - Parameters [0] {
          }
        }

        Method [ <internal:Core, inherits Exception, ctor> public method __construct ] {

          - Parameters [3] {
            Parameter #0 [ <optional> string $message = "" ]
            Parameter #1 [ <optional> int $code = 0 ]
            Parameter #2 [ <optional> ?Throwable $previous = null ]
          }
        }

        Method [ <internal:Core, inherits Exception> public method __wakeup ] {

          - Parameters [0] {
          }
          - Tentative return [ void ]
        }

        Method [ <internal:Core, inherits Exception, prototype Throwable> final public method getMessage ] {

          - Parameters [0] {
          }
          - Return [ string ]
        }

        Method [ <internal:Core, inherits Exception, prototype Throwable> final public method getCode ] {

          - Parameters [0] {
          }
        }

        Method [ <internal:Core, inherits Exception, prototype Throwable> final public method getFile ] {

          - Parameters [0] {
          }
          - Return [ string ]
        }

        Method [ <internal:Core, inherits Exception, prototype Throwable> final public method getLine ] {

          - Parameters [0] {
          }
          - Return [ int ]
        }

        Method [ <internal:Core, inherits Exception, prototype Throwable> final public method getTrace ] {

          - Parameters [0] {
          }
          - Return [ array ]
        }

        Method [ <internal:Core, inherits Exception, prototype Throwable> final public method getPrevious ] {

          - Parameters [0] {
          }
          - Return [ ?Throwable ]
        }

        Method [ <internal:Core, inherits Exception, prototype Throwable> final public method getTraceAsString ] {

          - Parameters [0] {
          }
          - Return [ string ]
        }

        Method [ <internal:Core, inherits Exception, prototype Stringable> public method __toString ] {

          - Parameters [0] {
          }
          - Return [ string ]
        }
      }
    }
  }
}
